"""Who is calling an issuer's Core API, and what they may reach.

Account API keys are checked at any node from the directory replica; each use is noted in
memory and reaches the key's `last_used_at` with the node's next flush. Organization API keys
live in the issuer's shard, so they are checked at the home node: elsewhere the request is
replayed home first (it is home work anyway). Whatever fails, unknown ids and other accounts'
issuers look the same: 401 for a key, 404 for an issuer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import Request

from api.auth import (
    INVALID_KEY,
    WILDCARD_SCOPE,
    allowed,
    authenticate,
    authorize,
    check_account_key,
    credentials,
)
from api.problems import Forbidden, NotFoundProblem, ServiceUnavailable, Unauthenticated
from runtime.node import Node
from runtime.routing import ensure_region
from shards.clock import rfc3339
from shards.directory import Directory
from shards.errors import NotFound
from shards.records import Placement
from shards.secrets import matches


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    account_id: str
    scopes: tuple[str, ...]
    organization_id: str | None = None  # an org API key reaches this organization only

    def require(self, scope: str) -> None:
        if WILDCARD_SCOPE not in self.scopes and scope not in self.scopes:
            raise Forbidden(f"this API key lacks the scope {scope}", extensions={"scope": scope})

    def beyond(self, scopes: Iterable[str]) -> list[str]:
        """The scopes among `scopes` that this key does not hold."""
        if WILDCARD_SCOPE in self.scopes:
            return []
        return sorted(set(scopes) - set(self.scopes))

    def grantable(self, scopes: Iterable[str]) -> None:
        """A key may give another key only scopes it holds itself."""
        beyond = self.beyond(scopes)
        if beyond:
            raise Forbidden(
                f"this API key cannot grant scopes it does not hold: {', '.join(beyond)}"
            )

    def manageable(self, key_id: str, scopes: Iterable[str]) -> None:
        """A key may change or revoke only keys that hold no scope it lacks: a narrower key
        cannot lock a wider one out."""
        beyond = self.beyond(scopes)
        if beyond:
            raise Forbidden(
                f"this API key cannot manage {key_id}, which holds scopes it does not:"
                f" {', '.join(beyond)}"
            )

    def reach(self, organization_id: str | None) -> None:
        """An org key may act only on paths under its own organization."""
        if self.organization_id is not None and organization_id != self.organization_id:
            raise Forbidden(f"this organization API key can only manage {self.organization_id}")


async def account_principal(request: Request, node: Node, account_id: str, scope: str) -> Principal:
    """Authenticate an account API key holding `scope` for a call on the account itself."""
    key = await authenticate(
        request, node.replica, now=node.clock.now(), client_ip=node.client_ip(request)
    )
    authorize(key, account_id, scope)
    node.key_used(key.id)
    return Principal(key.id, key.account_id, key.scopes)


async def primary_principal(request: Request, scope: str) -> tuple[Node, Directory, Principal]:
    """Authenticate an account-level call answered from the directory, at the primary (any
    other node replays it there)."""
    node: Node = request.app.state.node
    principal = await account_principal(request, node, request.path_params["account_id"], scope)
    ensure_region(node.settings.primary_region, node.region)
    if node.directory is None:
        raise ServiceUnavailable("the directory is not open on this node")
    return node, node.directory, principal


async def issuer_principal(
    request: Request, node: Node, account_id: str, issuer_id: str
) -> tuple[Principal, Placement]:
    """Authenticate for an issuer-level call and make sure this is the issuer's home node."""
    key_id, secret = credentials(request.headers.get("authorization"))
    if key_id not in node.replica.snapshot.api_keys:
        placement = await node.placement(issuer_id)
        if placement is None or placement.account_id != account_id:
            raise Unauthenticated(INVALID_KEY)
        ensure_region(placement.home_region, node.region)
        principal = await _organization_key(request, node, placement, key_id, secret)
        if principal is not None:
            return principal, placement
        # Not an org key: perhaps an account key newer than this node's replica.
        await node.replica.refresh_on_miss()
        if key_id not in node.replica.snapshot.api_keys:
            raise Unauthenticated(INVALID_KEY)
    key = node.replica.snapshot.api_keys[key_id]
    check_account_key(
        key, secret, node.replica, now=node.clock.now(), client_ip=node.client_ip(request)
    )
    # The key's own account first: another account's issuers are not worth a directory pull.
    if key.account_id != account_id:
        raise Forbidden(f"this API key cannot act on account {account_id}")
    node.key_used(key.id)
    placement = await node.placement(issuer_id)
    if placement is None or placement.account_id != account_id:
        raise NotFoundProblem(f"issuer {issuer_id} not found in account {account_id}")
    ensure_region(placement.home_region, node.region)
    return Principal(key.id, key.account_id, key.scopes), placement


async def _organization_key(
    request: Request, node: Node, placement: Placement, key_id: str, secret: str
) -> Principal | None:
    """The org API key with this id in the issuer's shard, checked; None if there is none."""
    shard = node.shards.get(placement.shard_id)
    try:
        key = await shard.resources.find(None, placement.issuer_id, "org_api_key", key_id)
    except NotFound:
        return None
    if key.secret_digest is None or not matches(secret, key.secret_digest):
        raise Unauthenticated(INVALID_KEY)
    expires_at = key.data.get("expires_at")
    if expires_at is not None and expires_at <= rfc3339(node.clock.now()):
        raise Unauthenticated("the API key has expired")
    _check_address(node, request, tuple(key.data.get("ip_allowlist", ())))
    return Principal(key.id, placement.account_id, tuple(key.data["scopes"]), str(key.parent_id))


def _check_address(node: Node, request: Request, allowlist: tuple[str, ...]) -> None:
    client_ip = node.client_ip(request)
    if allowlist and not allowed(client_ip, allowlist):
        raise Forbidden(f"requests from {client_ip or 'an unknown address'} are not allowed")
