"""The Core API's conventions, in one place: cursors, ETags, idempotency keys, list queries.

- Lists: `limit` (1-100, default 20), an opaque `cursor`, `next_cursor` in the answer;
  keyset pagination, so a page never shifts when items are added before or after it.
- ETags: `"<version>"` of the resource; `If-None-Match` on reads, `If-Match` on writes.
- `Idempotency-Key` on POST: the same key and request replay the stored response.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from api.json import json_response
from api.problems import (
    FieldError,
    IdempotencyKeyReused,
    InvalidHeader,
    InvalidQueryParameter,
    PreconditionFailed,
    ValidationFailed,
)
from shards.database import Transaction
from shards.idempotency import IdempotencyStore, StoredResponse
from shards.resources import VersionMismatch

T = TypeVar("T")

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100
_IDEMPOTENCY_KEY: Final = re.compile(r"^[\x21-\x7e]{1,255}$")
ETAG_PATTERN: Final = r'^(?:W/)?"([0-9]{1,18})"$'
_ETAG: Final = re.compile(ETAG_PATTERN)
ID_CURSOR: Final = re.compile(r"^[a-z]{1,4}_[0-9a-hjkmnp-tv-z]{26}$")
SEQUENCE_CURSOR: Final = re.compile(r"^[0-9]{1,18}$")


@dataclass(frozen=True, slots=True)
class ListQuery:
    limit: int
    after: str | None
    filters: dict[str, str]


def etag(version: int) -> str:
    return f'"{version}"'


def list_query(
    params: QueryParams,
    filters: Iterable[str],
    *,
    cursor: re.Pattern[str] = ID_CURSOR,
    enums: Mapping[str, tuple[str, ...]] | None = None,
) -> ListQuery:
    """`limit`, `cursor` and the named filters; every other query parameter is an error.

    A cursor is the position of the last item returned (clients treat it as opaque). Any
    well-formed cursor is meaningful: the page starts after that position. A filter with a
    fixed set of values (`enums`) refuses any other value with a 400 naming the parameter,
    rather than answering an empty page for a typo.
    """
    allowed = {"limit", "cursor", *filters}
    errors: list[FieldError] = [
        {"field": name, "message": "unknown query parameter"}
        for name in params
        if name not in allowed
    ]
    limit = DEFAULT_LIMIT
    raw_limit = params.get("limit")
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            errors.append(
                {"field": "limit", "message": f"must be an integer from 1 to {MAX_LIMIT}"}
            )
        else:
            limit = int(raw_limit)
    after = params.get("cursor")
    if after is not None and not cursor.fullmatch(after):
        errors.append({"field": "cursor", "message": "is not a cursor this API returned"})
    if errors:
        raise ValidationFailed(errors)
    chosen = {name: params[name] for name in filters if name in params}
    for name, value in chosen.items():
        allowed_values = (enums or {}).get(name)
        if allowed_values is not None and value not in allowed_values:
            raise InvalidQueryParameter(name, allowed_values)
    return ListQuery(limit, after, chosen)


NO_VERSION: Final = 0  # versions start at 1: what an empty `If-Match` requires matches none


def expected_version(request: Request) -> int | None:
    """The version `If-Match` requires, None without one or for `*`; 400 for anything that is
    not an ETag of ours. An empty value lists no ETag, so no version matches it and the write
    is refused with 412 (RFC 9110 §13.1.1): a client that meant to send a version and lost it
    must not have its write go through unchecked."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    if not header.strip():
        return NO_VERSION
    match = _ETAG.fullmatch(header.strip())
    if match is None:
        raise InvalidHeader(f'If-Match must be "*" or an ETag this API returned, got {header!r}')
    return int(match.group(1))


def not_modified(request: Request, current: str) -> bool:
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or current in candidates


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationFailed(
            [{"field": "Idempotency-Key", "message": "must be 1 to 255 visible ASCII characters"}]
        )
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests with one idempotency key the same request."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def earlier_reply(
    store: IdempotencyStore, tx: Transaction, scope: str, key: str | None, fingerprint: str
) -> Response | None:
    """The stored reply to an earlier request with this `Idempotency-Key`, None if this is
    the first; a 422 problem if the key came with another request."""
    if key is None:
        return None
    stored = await store.find(tx, scope, key)
    return None if stored is None else checked_replay(stored, fingerprint, key)


def checked_replay(stored: StoredResponse, fingerprint: str, key: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was used with a different request")
    return replay(stored)


def replay(stored: StoredResponse) -> Response:
    """The stored response to a request made again with its `Idempotency-Key`."""
    return Response(
        stored.body,
        status_code=stored.status,
        headers={**stored.headers, "Idempotency-Replayed": "true"},
        media_type="application/json",
    )


def _id(item: Any) -> str:
    return str(item.id)


def page_response(
    items: Sequence[T],
    limit: int,
    represent: Callable[[T], Any],
    cursor: Callable[[T], str] = _id,
) -> Response:
    """A list page from up to `limit + 1` items fetched: the extra one only says there is a
    next page, whose cursor is the last item shown."""
    shown = items[:limit]
    more = len(items) > limit
    return json_response(
        {
            "object": "list",
            "data": [represent(item) for item in shown],
            "next_cursor": cursor(shown[-1]) if more else None,
        }
    )


def stale(exc: VersionMismatch) -> PreconditionFailed:
    """The 412 for a write whose `If-Match` named a version no longer current."""
    return PreconditionFailed(
        f"{exc.resource_id} has changed: it is now at version {exc.actual}",
        headers={"ETag": etag(exc.actual)},
    )
