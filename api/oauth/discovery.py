"""OpenID Connect Discovery 1.0 §4: `GET /{issuer_id}/.well-known/openid-configuration`.

Edge work: answered by whichever node the request reaches, from the directory replica,
without reading a shard and without a replay. The document lists only what AuthPI serves
for the issuer today; the token service adds its endpoints as they land.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from api.json import json_response
from api.problems import NotFoundProblem
from runtime.node import Node

# Discovery documents change only with configuration; let clients and CDNs keep them briefly.
DISCOVERY_MAX_AGE: Final = 300


async def openid_configuration(request: Request) -> Response:
    node: Node = request.app.state.node
    issuer_id = request.path_params["issuer_id"]
    placement = await node.placement(issuer_id)
    if placement is None or placement.status != "active":
        raise NotFoundProblem(f"issuer {issuer_id} not found")
    return json_response(
        discovery_document(f"{node.settings.public_url}/{issuer_id}"),
        headers={"Cache-Control": f"public, max-age={DISCOVERY_MAX_AGE}"},
    )


def discovery_document(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks.json",
        "token_endpoint": f"{issuer}/token",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }
