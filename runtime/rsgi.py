"""The node as granian serves it: RSGI in front, the starlette app behind.

Token, introspection and JWKS requests are most of what a node answers, and most of their cost
was the ASGI message exchange around them. So the node speaks granian's RSGI: those three go
straight to their endpoint (api/oauth/endpoints.py) with the body read in one call and the
reply written in one call; every other request is handed to the starlette app as ASGI by the
small bridge below, so the app, its middleware and its error handlers are exactly what the
in-process tests exercise. The app's lifespan runs in `__rsgi_init__` and `__rsgi_del__`.

Granian's RSGI hands over only header values that are visible ASCII: for any other value it
gives the header's name and no value. No such header may go unnoticed (an `If-Match` that
vanished would turn a conditional write into an unconditional one), so the edge endpoints
refuse one they read, and the bridge passes the app a single obs-text byte in its place,
which every header the app parses refuses as malformed, as it would the original value.
RSGI has no `raw_path` either; the app does not use it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

from granian._granian import RSGIHTTPProtocol as HTTPProtocol
from granian._granian import RSGIProtocolClosed as ProtocolClosed
from granian.rsgi import Scope
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message

from api.oauth import endpoints as oauth
from api.oauth.errors import InvalidRequest, OAuthError, RequestTooLarge, oauth_error_reply
from api.oauth.wire import EdgeHandler, EdgeRequest
from api.problems import InternalError, Problem, problem_reply
from api.reply import Headers, Reply

log = logging.getLogger("authpi.rsgi")

# `/{issuer_id}/<endpoint>` by method: what a node answers most, without the ASGI exchange.
EDGE_ENDPOINTS: Final[dict[tuple[str, str], EdgeHandler]] = {
    ("POST", "token"): oauth.token,
    ("POST", "introspect"): oauth.introspect,
    ("GET", "jwks.json"): oauth.jwks,
}
ASGI_VERSION: Final = {"version": "3.0", "spec_version": "2.3"}
UNREADABLE: Final = b"\x80"  # stands in for a header value granian did not hand over


class RsgiEdgeRequest(EdgeRequest):
    __slots__ = ("headers", "protocol")

    def __init__(self, issuer_id: str, scope: Scope, protocol: HTTPProtocol) -> None:
        super().__init__(issuer_id)
        self.headers = scope.headers
        self.protocol = protocol

    def header(self, name: str) -> str | None:
        value: str | None = self.headers.get(name)
        if value is None and name in self.headers:
            raise _unreadable(name)
        return value

    def headers_named(self, name: str) -> list[str]:
        if name not in self.headers:
            return []
        if self.headers.get(name) is None:
            raise _unreadable(name)
        return [value for key, value in self.headers.items() if key == name]

    async def body(self, limit: int) -> bytes:
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) <= limit:
            return await self.protocol()  # the server reads exactly the declared length
        body = bytearray()
        async for chunk in self.protocol:
            body += chunk
            if len(body) > limit:
                raise RequestTooLarge(f"the body must be at most {limit} bytes")
        return bytes(body)


def _unreadable(name: str) -> InvalidRequest:
    return InvalidRequest(f"the {name} header must be visible ASCII")


def edge_failure(exc: Exception) -> Reply:
    """What the starlette app's exception handlers would answer for an edge endpoint."""
    if isinstance(exc, OAuthError):
        return oauth_error_reply(exc)
    if isinstance(exc, Problem):
        return problem_reply(exc)
    log.error("unhandled error on an edge endpoint", exc_info=exc)
    return problem_reply(InternalError("an internal error occurred; it has been logged"))


class RsgiNode:
    """The granian target of a node (`runtime.app:app_from_environ`)."""

    def __init__(self, app: Starlette, region: str) -> None:
        self.app = app
        self.region = ("authpi-region", region)
        self.lifespan = Lifespan(app)
        self.oauth: oauth.OAuth | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.lifespan.startup())
        self.oauth = self.app.state.oauth

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.lifespan.shutdown())

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        if scope.proto != "http":
            return  # a websocket: nodes serve none (granian runs them with --no-ws)
        parts = scope.path.split("/")
        if len(parts) == 3 and parts[1] and self.oauth is not None:
            handler = EDGE_ENDPOINTS.get((scope.method, parts[2]))
            if handler is not None:
                await self.edge(handler, self.oauth, parts[1], scope, protocol)
                return
        await Exchange(protocol).serve(self.app, self.asgi_scope(scope))

    async def edge(
        self,
        handler: EdgeHandler,
        state: oauth.OAuth,
        issuer_id: str,
        scope: Scope,
        protocol: HTTPProtocol,
    ) -> None:
        try:
            reply = await handler(state, RsgiEdgeRequest(issuer_id, scope, protocol))
        except Exception as exc:
            reply = edge_failure(exc)
        protocol.response_bytes(reply.status, [*reply.headers, self.region], reply.body)

    def asgi_scope(self, scope: Scope) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": ASGI_VERSION,
            "http_version": scope.http_version,
            "method": scope.method,
            "scheme": scope.scheme,
            "path": scope.path,
            "query_string": scope.query_string.encode(),  # as sent: percent-encoded ASCII
            "root_path": "",
            "headers": _asgi_headers(scope),
            "client": _address(scope.client),
            "server": _address(scope.server),
            "state": dict(self.lifespan.state),
        }


def _asgi_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    headers = scope.headers
    listed = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    names = headers.keys()  # RSGI headers are not iterable
    listed += [(name.encode("latin-1"), UNREADABLE) for name in names if headers.get(name) is None]
    return listed


def _address(text: str) -> tuple[str, int] | None:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


class Exchange:
    """One ASGI request/response exchange carried over an RSGI protocol."""

    def __init__(self, protocol: HTTPProtocol) -> None:
        self.protocol = protocol
        self.chunks: AsyncIterator[bytes] | None = None
        self.body_done = False
        self.status = 500
        self.headers: Headers = []
        self.started = False
        self.stream: Any = None
        self.finished = False

    async def serve(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self.receive, self.send)
        except ProtocolClosed:
            return  # the client went away mid-response
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if self.started:
                return
            self.finish(problem_reply(InternalError("an internal error occurred")))
            return
        if not self.finished and self.stream is None:
            log.error("no response to %s %s", scope["method"], scope["path"])
            self.finish(problem_reply(InternalError("an internal error occurred")))

    def finish(self, reply: Reply) -> None:
        self.protocol.response_bytes(reply.status, reply.headers, reply.body)
        self.finished = True

    async def receive(self) -> Message:
        if self.body_done:
            await self.protocol.client_disconnect()
            return {"type": "http.disconnect"}
        if self.chunks is None:
            self.chunks = aiter(self.protocol)
        try:
            chunk: bytes = await anext(self.chunks)
        except StopAsyncIteration:
            self.body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(self, message: Message) -> None:
        if self.finished:
            raise RuntimeError(f"{message['type']} after the response was complete")
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            self.status = message["status"]
            self.headers = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in message.get("headers", ())
            ]
            return
        if kind != "http.response.body" or not self.started:
            raise RuntimeError(f"unexpected ASGI message {kind}")
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if self.stream is None and not more:
            self.protocol.response_bytes(self.status, self.headers, body)
            self.finished = True
            return
        if self.stream is None:
            self.stream = self.protocol.response_stream(self.status, self.headers)
        if body:
            await self.stream.send_bytes(body)
        if not more:
            self.finished = True


class Lifespan:
    """Drives the ASGI app's lifespan from RSGI's init and del hooks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self.state}
        self.task = asyncio.create_task(self._run(scope))
        await self._step("startup")

    async def _run(self, scope: dict[str, Any]) -> None:
        await self.app(scope, self.inbox.get, self.outbox.put)

    async def shutdown(self) -> None:
        if self.task is not None and not self.task.done():
            await self._step("shutdown")

    async def _step(self, phase: str) -> None:
        await self.inbox.put({"type": f"lifespan.{phase}"})
        assert self.task is not None
        answer = asyncio.ensure_future(self.outbox.get())
        await asyncio.wait({answer, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            self.task.result()  # raises what the app raised
            raise RuntimeError(f"the app ended during lifespan {phase}")
        message = answer.result()
        if message["type"] == f"lifespan.{phase}.failed":
            raise RuntimeError(f"lifespan {phase} failed: {message.get('message', '')}")
