"""What an edge endpoint reads from a request, served by starlette or straight from granian.

The OAuth endpoints take an `EdgeRequest` (the issuer id from the path, headers, a capped
body) and return a `Reply`. The starlette app serves them like any route, through
`starlette_endpoint`; the node's RSGI entry (runtime/rsgi.py) serves the hottest ones with
its own `EdgeRequest` and no ASGI message exchange in between.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from api.oauth.errors import RequestTooLarge
from api.reply import Reply

if TYPE_CHECKING:
    from api.oauth.endpoints import OAuth


class EdgeRequest:
    """One request to an edge endpoint; header names are looked up in lower case."""

    __slots__ = ("issuer_id",)

    def __init__(self, issuer_id: str) -> None:
        self.issuer_id = issuer_id

    def header(self, name: str) -> str | None:
        raise NotImplementedError

    def headers_named(self, name: str) -> list[str]:
        raise NotImplementedError

    async def body(self, limit: int) -> bytes:
        """The whole body; `RequestTooLarge` as soon as it passes `limit` bytes."""
        raise NotImplementedError


EdgeHandler = Callable[["OAuth", EdgeRequest], Awaitable[Reply]]


class StarletteEdgeRequest(EdgeRequest):
    __slots__ = ("request",)

    def __init__(self, request: Request) -> None:
        super().__init__(request.path_params["issuer_id"])
        self.request = request

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def headers_named(self, name: str) -> list[str]:
        return self.request.headers.getlist(name)

    async def body(self, limit: int) -> bytes:
        body = bytearray()
        async for chunk in self.request.stream():
            body += chunk
            if len(body) > limit:
                raise RequestTooLarge(f"the body must be at most {limit} bytes")
        return bytes(body)


def starlette_endpoint(handler: EdgeHandler) -> Callable[[Request], Awaitable[Response]]:
    """The edge endpoint as a starlette route endpoint; errors go to the app's handlers."""

    async def endpoint(request: Request) -> Response:
        reply = await handler(request.app.state.oauth, StarletteEdgeRequest(request))
        return reply.response()

    endpoint.__name__ = handler.__name__
    return endpoint
