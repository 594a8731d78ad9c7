"""`Reply`: an answer as status, headers and body, apart from any one server interface.

The edge endpoints build replies; the node's RSGI entry writes them straight to granian
(runtime/rsgi.py) and the starlette app turns them into responses. Problems and OAuth errors
are shaped here once and served both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import orjson
from starlette.responses import Response

Headers = list[tuple[str, str]]

# Header lists the edge endpoints answer with, built once.
NO_STORE: Final[Headers] = [("cache-control", "no-store"), ("pragma", "no-cache")]
JSON_NO_STORE: Final[Headers] = [("content-type", "application/json"), *NO_STORE]


class Reply:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers  # lower-case names; content-length is the server's to add
        self.body = body

    @classmethod
    def json(
        cls,
        content: object,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str = "application/json",
    ) -> Reply:
        listed = [("content-type", media_type)]
        if headers:
            listed += [(name.lower(), value) for name, value in headers.items()]
        return cls(status, listed, orjson.dumps(content))

    def response(self) -> Response:
        response = Response(self.body, status_code=self.status)
        response.raw_headers += [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers
        ]
        return response
