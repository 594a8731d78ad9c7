"""The Core API's conventions, in one place: cursors, ETags, idempotency keys, list queries.

- Lists: `limit` (1-100, default 20), an opaque `cursor`, `next_cursor` in the answer;
  keyset pagination, so a page never shifts when items are added before or after it.
- ETags: `"<version>"` of the resource; `If-None-Match` on reads, `If-Match` on writes.
- `Idempotency-Key` on POST: the same key and request replay the stored response.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import QueryParams
from starlette.requests import Request

from api.problems import FieldError, InvalidHeader, ValidationFailed

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
    params: QueryParams, filters: Iterable[str], *, cursor: re.Pattern[str] = ID_CURSOR
) -> ListQuery:
    """`limit`, `cursor` and the named filters; every other query parameter is an error.

    A cursor is the position of the last item returned (clients treat it as opaque). Any
    well-formed cursor is meaningful: the page starts after that position.
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
    return ListQuery(limit, after, chosen)


def expected_version(request: Request) -> int | None:
    """The version `If-Match` requires, None without one or for `*`; 400 for anything that is
    not an ETag of ours, an empty value included (a client that meant to send a version and
    lost it must not have its write go through unchecked)."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
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
