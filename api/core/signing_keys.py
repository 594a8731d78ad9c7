"""Core API: an issuer's signing keys. List them, and rotate one algorithm's key.

`GET  .../issuers/{issuer_id}/signing_keys`          the keys in the JWKS, with their states
`POST .../issuers/{issuer_id}/signing_keys/rotate`   `{"alg": "ES256", "immediate": false}`

Home work in the issuer's region, like every issuer-level call. A planned rotation publishes
the successor before it signs (see `shards.keys`); `immediate` is for a key suspected
compromised. The rotation and its `signing_key.rotated` event commit together, and the edge
snapshots of every node pick the new key up within the staleness bound.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.body import parse_json_object, read_json_body
from api.core import conventions
from api.core.access import issuer_principal
from api.json import json_response
from api.problems import ConflictProblem, ServiceUnavailable
from api.schema import Boolean, Schema, String
from runtime.node import Node
from shards.clock import rfc3339
from shards.errors import Conflict, StorageError
from shards.idempotency import StoredResponse
from shards.issuers import SIGNING_ALGS
from shards.keys import SigningKey

__all__ = ["ROTATE", "SIGNING_ALGS", "list_keys", "rotate"]

ROTATE: Final = Schema(
    "SigningKeyRotation",
    {
        "alg": String("Which algorithm's key to rotate.", enum=SIGNING_ALGS, example="ES256"),
        "immediate": Boolean(
            "Sign with the new key at once, for a key suspected compromised. By default the new"
            " key is published first and signs once every JWKS cache has seen it."
        ),
    },
    required=frozenset({"alg"}),
)


def represent(key: SigningKey, now: str) -> dict[str, Any]:
    return {
        "object": "signing_key",
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state(now),
        "public_jwk": key.public_jwk,
        "created_at": key.created_at,
        "activates_at": key.activates_at,
        "retires_at": key.retires_at,
        "expires_at": key.expires_at,
    }


async def list_keys(request: Request) -> Response:
    node: Node = request.app.state.node
    params = request.path_params
    principal, placement = await issuer_principal(
        request, node, params["account_id"], params["issuer_id"]
    )
    principal.require("issuers:read")
    principal.reach(None)
    shard = node.shards.get(placement.shard_id)
    now = rfc3339(node.clock.now())
    keys = await shard.keys.published(placement.issuer_id)
    return json_response(
        {"object": "list", "data": [represent(key, now) for key in keys], "next_cursor": None}
    )


async def rotate(request: Request) -> Response:
    node: Node = request.app.state.node
    params = request.path_params
    principal, placement = await issuer_principal(
        request, node, params["account_id"], params["issuer_id"]
    )
    principal.require("issuers:write")
    principal.reach(None)
    key_header = conventions.idempotency_key(request)
    raw = await read_json_body(request)
    fields = ROTATE.validate(parse_json_object(raw))
    immediate = bool(fields.get("immediate"))
    shard = node.shards.get(placement.shard_id)
    issuer = await shard.issuers.get(placement.issuer_id)
    lifetime = max(
        int(issuer.setting("access_token_lifetime")),
        int(issuer.setting("id_token_lifetime")),
        int(issuer.setting("agent_token_lifetime_max")),
    )
    successor = shard.keys.prepare_successor(
        placement.issuer_id, fields["alg"], immediate=immediate
    )
    scope = f"{principal.key_id}:{placement.issuer_id}"
    print_ = conventions.fingerprint("POST", request.url.path, raw)
    try:
        async with shard.database.transaction() as tx:
            earlier = await conventions.earlier_reply(
                shard.idempotency, tx, scope, key_header, print_
            )
            if earlier is not None:
                return earlier
            retired = await shard.keys.rotate_in(
                tx,
                successor,
                placement.account_id,
                max_token_lifetime=lifetime,
                immediate=immediate,
                actor=principal.key_id,
            )
            now = rfc3339(node.clock.now())
            body = {
                "object": "signing_key_rotation",
                "key": represent(successor, now),
                "retired": [represent(key, now) for key in retired],
            }
            if key_header is not None:
                await shard.idempotency.store(
                    tx, scope, key_header, StoredResponse(print_, 201, {}, orjson.dumps(body))
                )
    except Conflict as exc:
        raise ConflictProblem(str(exc)) from exc
    except StorageError as exc:
        raise ServiceUnavailable("the rotation could not be stored; retry") from exc
    return json_response(body, status_code=201)
