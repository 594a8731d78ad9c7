"""Core API: account API keys, `/v1/accounts/{account_id}/api_keys[/{api_key_id}]`.

Account keys live in the directory, so these calls are answered at the primary region: the
node where a request lands authenticates the caller from its replica, then any node but the
primary's answers with a replay there. Writes commit with their `api_key.*` event in the
directory's outbox, and the primary refreshes its own replica at once; other nodes see a
revocation within their refresh interval.

Rules, beyond the conventions every operation follows:
- a key grants only scopes it holds, and changes or revokes only keys whose scopes it holds
  (`*` holds every scope), so a narrower key can neither widen nor lock out a wider one;
- a revoked key stays revoked; `DELETE` revokes (the key stays listed, with its status);
- no change may leave the account without an active key that can manage keys (`*` or
  `api_keys:write`): that is a 409 `would-lock-out`, so a key cannot silently revoke or
  narrow the account's last way in. A key may revoke itself when another such key remains.
- `last_used_at` is read-only and informational: nodes note each use in memory and hand it
  to the directory at most once a minute per key, so it lags by up to a minute and does not
  move the ETag.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.body import parse_json_object, read_json_body
from api.core import conventions
from api.core.access import Principal, primary_principal
from api.core.kinds import CIDRS, EXPIRES_AT, NAME, SCOPES
from api.json import json_response
from api.problems import (
    ApiKeyRevoked,
    LockoutProblem,
    NotFoundProblem,
    ServiceUnavailable,
)
from api.schema import Schema, String
from shards.account_keys import AccountKey, AccountKeyError, KeyRevoked, LockedOut
from shards.database import Transaction
from shards.directory import Directory
from shards.errors import NotFound, StorageError
from shards.idempotency import StoredResponse
from shards.ids import is_id
from shards.records import IssuedApiKey
from shards.resources import VersionMismatch

COLLECTION: Final = "/v1/accounts/{account_id}/api_keys"
ITEM: Final = COLLECTION + "/{api_key_id}"
STATUSES: Final = ("active", "revoked")

CREATE_API_KEY: Final = Schema(
    "ApiKeyCreate",
    {"name": NAME, "scopes": SCOPES, "ip_allowlist": CIDRS, "expires_at": EXPIRES_AT},
    required=frozenset({"name", "scopes"}),
)
UPDATE_API_KEY: Final = Schema(
    "ApiKeyUpdate",
    {
        **CREATE_API_KEY.fields,
        "status": String("revoked revokes the key, for good.", enum=STATUSES),
    },
    not_null=frozenset({"name", "scopes", "status"}),
)


def represent(key: AccountKey, issued: IssuedApiKey | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object": "api_key",
        "id": key.id,
        "account_id": key.account_id,
        **key.fields(),
        "last_used_at": key.last_used_at,
        "created_at": key.created_at,
        "updated_at": key.updated_at,
    }
    if issued is not None:
        body["secret"] = issued.token
    return body


def _key_id(request: Request) -> str:
    key_id: str = request.path_params["api_key_id"]
    if not is_id(key_id, "key"):
        raise NotFoundProblem(f"api key {key_id} not found")
    return key_id


async def create_api_key(request: Request) -> Response:
    node, directory, principal = await primary_principal(request, "api_keys:write")
    idempotency_key = conventions.idempotency_key(request)
    raw = await read_json_body(request)
    fields = CREATE_API_KEY.validate(parse_json_object(raw))
    principal.grantable(fields["scopes"])
    scope = f"{principal.key_id}:{principal.account_id}"
    fingerprint = conventions.fingerprint("POST", request.url.path, raw)
    try:
        async with directory.database.transaction() as tx:
            earlier = await conventions.earlier_reply(
                directory.idempotency, tx, scope, idempotency_key, fingerprint
            )
            if earlier is not None:
                return earlier
            key, issued = await directory.keys.insert(
                tx,
                principal.account_id,
                fields["name"],
                fields["scopes"],
                ip_allowlist=fields.get("ip_allowlist") or (),
                expires_at=fields.get("expires_at"),
                actor=principal.key_id,
            )
            body = represent(key)
            headers = {
                "ETag": conventions.etag(key.version),
                "Location": f"{request.url.path}/{key.id}",
            }
            if idempotency_key is not None:  # the secret is shown once: never stored
                await directory.idempotency.store(
                    tx,
                    scope,
                    idempotency_key,
                    StoredResponse(fingerprint, 201, headers, orjson.dumps(body)),
                )
    except StorageError as exc:
        raise ServiceUnavailable("the API key could not be stored; retry") from exc
    await node.refresh_replica()
    return json_response(represent(key, issued), status_code=201, headers=headers)


async def list_api_keys(request: Request) -> Response:
    _, directory, principal = await primary_principal(request, "api_keys:read")
    query = conventions.list_query(request.query_params, ("status",), enums={"status": STATUSES})
    keys = await directory.keys.page(
        principal.account_id,
        after=query.after,
        limit=query.limit + 1,
        status=query.filters.get("status"),
    )
    return conventions.page_response(keys, query.limit, represent)


async def get_api_key(request: Request) -> Response:
    _, directory, principal = await primary_principal(request, "api_keys:read")
    key_id = _key_id(request)
    try:
        key = await directory.keys.find(None, principal.account_id, key_id)
    except NotFound:
        raise NotFoundProblem(f"api key {key_id} not found") from None
    tag = conventions.etag(key.version)
    if conventions.not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return json_response(represent(key), headers={"ETag": tag})


async def update_api_key(request: Request) -> Response:
    node, directory, principal = await primary_principal(request, "api_keys:write")
    key_id = _key_id(request)
    fields = UPDATE_API_KEY.validate(parse_json_object(await read_json_body(request)))
    if "ip_allowlist" in fields and fields["ip_allowlist"] is None:
        fields["ip_allowlist"] = []
    if "scopes" in fields:
        principal.grantable(fields["scopes"])
    expected = conventions.expected_version(request)
    try:
        async with directory.database.transaction() as tx:
            key = await _find(directory, tx, principal, key_id)
            updated = await directory.keys.update(
                tx, key, fields, expected_version=expected, actor=principal.key_id
            )
    except (AccountKeyError, VersionMismatch) as exc:
        raise _problem(exc) from exc
    if updated is not key:
        await node.refresh_replica()
    return json_response(represent(updated), headers={"ETag": conventions.etag(updated.version)})


async def revoke_api_key(request: Request) -> Response:
    node, directory, principal = await primary_principal(request, "api_keys:write")
    key_id = _key_id(request)
    expected = conventions.expected_version(request)
    try:
        async with directory.database.transaction() as tx:
            key = await _find(directory, tx, principal, key_id)
            revoked = await directory.keys.revoke(
                tx, key, expected_version=expected, actor=principal.key_id
            )
    except (AccountKeyError, VersionMismatch) as exc:
        raise _problem(exc) from exc
    if revoked is not key:
        await node.refresh_replica()
    return Response(status_code=204)


async def _find(
    directory: Directory, tx: Transaction, principal: Principal, key_id: str
) -> AccountKey:
    """The key to change, if the caller may change it."""
    try:
        key = await directory.keys.find(tx, principal.account_id, key_id)
    except NotFound:
        raise NotFoundProblem(f"api key {key_id} not found") from None
    principal.manageable(key.id, key.scopes)
    return key


def _problem(exc: AccountKeyError | VersionMismatch) -> Exception:
    if isinstance(exc, VersionMismatch):
        return conventions.stale(exc)
    if isinstance(exc, KeyRevoked):
        return ApiKeyRevoked(str(exc))
    if isinstance(exc, LockedOut):
        return LockoutProblem(str(exc))
    raise AssertionError(f"unmapped key error {exc!r}")
