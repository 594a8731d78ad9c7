"""Reading OAuth requests: `application/x-www-form-urlencoded` bodies, strictly.

RFC 6749 §3.1: parameters sent without a value are treated as omitted, and none may appear
more than once (RFC 8707's `resource` is the one parameter that may repeat). Bodies are
capped, and anything that is not valid percent-encoded UTF-8 is refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import unquote_plus

from api.oauth.errors import InvalidRequest, RequestTooLarge
from api.oauth.wire import EdgeRequest

MAX_BODY: Final = 16 * 1024
REPEATABLE: Final = frozenset({"resource"})


class Form:
    __slots__ = ("repeated", "values")

    def __init__(self, values: Mapping[str, str], repeated: Mapping[str, list[str]]) -> None:
        self.values = values
        self.repeated = repeated

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def all(self, name: str) -> list[str]:
        return self.repeated.get(name, [])


async def read_form(request: EdgeRequest) -> Form:
    media_type = (request.header("content-type") or "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("the body must be application/x-www-form-urlencoded")
    declared = request.header("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise RequestTooLarge(f"the body must be at most {MAX_BODY} bytes")
    return parse_form(await request.body(MAX_BODY))


def parse_form(body: bytes) -> Form:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidRequest("the body must be percent-encoded ASCII") from None
    values: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        try:
            name = unquote_plus(raw_name, errors="strict")
            value = unquote_plus(raw_value, errors="strict")
        except UnicodeDecodeError:
            raise InvalidRequest("a parameter is not valid UTF-8 once decoded") from None
        if not value:
            continue
        if name in REPEATABLE:
            repeated.setdefault(name, []).append(value)
            continue
        if name in values:
            raise InvalidRequest(f"the parameter {name} is included more than once")
        values[name] = value
    return Form(values, repeated)
