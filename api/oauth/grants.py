"""The client_credentials grant (RFC 6749 §4.4) for clients and agents, from an edge snapshot.

Decides what a token says, without HTTP: which scopes (down-selected from what the client
or agent holds), which audience (RFC 8707 `resource`, else the issuer's default), which
organization context for an agent, and how long it lives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from api.oauth.clients import Authenticated
from api.oauth.errors import (
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    UnauthorizedClient,
)
from runtime.edge import IssuerEdge

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
MAX_RESOURCES: Final = 10


def client_credentials_claims(
    edge: IssuerEdge,
    client: Authenticated,
    *,
    scope: str | None,
    resources: Sequence[str],
    organization: str | None,
    now: int,
    jti: str,
) -> tuple[dict[str, Any], int]:
    """The claims of the token to issue, and its lifetime in seconds."""
    principal = client.principal
    if not client.is_agent and "client_credentials" not in principal.get("grant_types", ()):
        raise UnauthorizedClient(f"{client.client_id} may not use the client_credentials grant")
    membership = _membership(principal, organization) if client.is_agent else None
    held = list(principal["scopes"])
    if membership is not None and membership["status"] == "active":
        held.extend(s for s in membership["scopes"] if s not in held)
    granted = _scopes(scope, held)
    settings = edge.settings
    if client.is_agent:
        lifetime = min(
            int(principal.get("token_lifetime") or 300), int(settings["agent_token_lifetime_max"])
        )
    else:
        lifetime = min(
            int(principal.get("access_token_lifetime") or settings["access_token_lifetime"]),
            int(settings["access_token_lifetime"]),
        )
    claims: dict[str, Any] = {
        "iss": edge.url,
        "sub": client.client_id,
        "aud": _audience(edge, resources),
        "client_id": client.client_id,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti,
    }
    if granted:
        claims["scope"] = " ".join(granted)
    if membership is not None:
        claims["org"] = {
            "id": membership["organization_id"],
            "membership_id": membership["id"],
            "status": membership["status"],
            "scopes": list(membership["scopes"]) if membership["status"] == "active" else [],
        }
    return claims, lifetime


def _scopes(requested: str | None, held: Sequence[str]) -> list[str]:
    if requested is None:
        return list(held)
    wanted = list(dict.fromkeys(requested.split(" ")))
    if any(not _SCOPE_TOKEN.fullmatch(s) for s in wanted):
        raise InvalidScope("scope must be scope tokens separated by single spaces")
    missing = [s for s in wanted if s not in held]
    if missing:
        raise InvalidScope(f"not held by the client: {' '.join(missing)}")
    return wanted


def _audience(edge: IssuerEdge, resources: Sequence[str]) -> str | list[str]:
    if not resources:
        return str(edge.settings.get("default_audience") or edge.url)
    if len(resources) > MAX_RESOURCES:
        raise InvalidTarget(f"at most {MAX_RESOURCES} resource parameters")
    for resource in resources:
        parts = urlsplit(resource)
        if not parts.scheme or not parts.netloc or parts.fragment or "#" in resource:
            raise InvalidTarget("each resource must be an absolute URI without a fragment")
    unique = list(dict.fromkeys(resources))
    return unique[0] if len(unique) == 1 else unique


def _membership(principal: Mapping[str, Any], organization: str | None) -> Mapping[str, Any] | None:
    """The organization context of an agent's token; a suspended organization gives none."""
    memberships = principal.get("memberships", [])
    if organization is not None:
        chosen = [m for m in memberships if m["organization_id"] == organization]
        if not chosen:
            raise InvalidRequest(f"the agent is not a member of {organization[:40]}")
    else:
        chosen = memberships if len(memberships) == 1 else []
    if not chosen or chosen[0]["organization_status"] != "active":
        return None
    membership: Mapping[str, Any] = chosen[0]
    return membership
