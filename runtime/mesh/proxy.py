"""The local mesh's front proxy: on loopback, what Fly.io's proxy does in production.

It picks the entry node from the client's location (`X-Client-Location`, an IATA code), sets
the headers Fly's proxy sets (`Fly-Region`, `Fly-Request-Id`, `Fly-Client-IP`,
`X-Forwarded-For`, `X-Forwarded-Proto`) in place of any the client sent, forwards the request,
and replays it for as long as the node that answers asks for it with `fly-replay`
(`runtime.mesh.replay`). Bodies are buffered both ways: a replayed request is sent again whole.

Every response carries `X-AuthPI-Mesh-Path` (the regions whose nodes answered, entry first) and
the `Fly-Request-Id`. Where the proxy gives up it answers a problem (`runtime.mesh.problems`).
"""

from __future__ import annotations

import os
import posixpath
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Final, TypeAlias
from urllib.parse import quote

import httpx
from starlette.types import Receive, Scope, Send

from runtime.mesh.problems import (
    PROBLEM_CONTENT_TYPE,
    EntryRegionUnavailable,
    InternalPath,
    InvalidReplay,
    MeshProblem,
    ReplayBodyTooLarge,
    ReplayLimitReached,
    ReplayTargetUnavailable,
    RequestBodyTooLarge,
    UnknownLocation,
    UpstreamTimeout,
    UpstreamUnreachable,
    problem_body,
)
from runtime.mesh.replay import (
    InvalidReplayHeader,
    NoReplayTarget,
    choose_replay_target,
    format_replay_source,
    parse_replay_header,
)
from runtime.mesh.settings import MeshNode, ProxySettings

Locate: TypeAlias = Callable[[str], str]
RawHeaders: TypeAlias = list[tuple[bytes, bytes]]

LOCATION_HEADER: Final = b"x-client-location"
MESH_PATH_HEADER: Final = b"x-authpi-mesh-path"
REQUEST_ID_HEADER: Final = b"fly-request-id"
REPLAY_HEADER: Final = b"fly-replay"
REPLAY_SOURCE_HEADER: Final = b"fly-replay-src"
INTERNAL_PREFIX: Final = "/_internal"

# RFC 9110 §7.6.1: these describe one connection, not the message; a proxy never forwards them,
# nor any header the Connection header names. Proxy-* headers are meant for this proxy alone.
_HOP_BY_HOP: Final = frozenset(
    {b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
_PROXY_PREFIX: Final = b"proxy-"
# Fly-* headers are the proxy's to set, both ways: a client's copy is dropped so a node can trust
# what it reads, and a node's (fly-replay above all) is consumed here, never passed on.
_FLY_PREFIX: Final = b"fly-"


@dataclass(frozen=True)
class _Response:
    status: int
    headers: RawHeaders
    body: bytes


class _ClientGone(Exception):
    """The client disconnected before its request body arrived: nobody is left to answer."""


class MeshProxy:
    """The ASGI app. One `httpx.AsyncClient` serves every request: opened at lifespan startup
    (or on first use, when run without a lifespan), closed at shutdown."""

    def __init__(self, settings: ProxySettings, *, locate: Locate) -> None:
        self._settings = settings
        self._locate = locate
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)
        elif scope["type"] == "http":
            await self._answer(scope, receive, send)
        else:
            # The mesh forwards HTTP only; closing before accepting refuses the WebSocket (403).
            await send({"type": "websocket.close"})

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._upstream()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        """Close the connections to the nodes (lifespan shutdown does; call it when running
        without a lifespan)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _upstream(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._settings.upstream_timeout_seconds,
                # Cookies a node sets belong to the client behind the proxy: keep none here.
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
                # Nodes are on loopback: an HTTP(S)_PROXY from the environment must not apply.
                trust_env=False,
            )
        return self._client

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = uuid.uuid4().hex
        mesh_path: list[str] = []
        try:
            response = await self._forward(scope, receive, request_id, mesh_path)
        except MeshProblem as problem:
            response = _Response(
                problem.status,
                [(b"content-type", PROBLEM_CONTENT_TYPE.encode())],
                problem_body(problem),
            )
        except _ClientGone:
            return
        headers = [
            *response.headers,
            (MESH_PATH_HEADER, ",".join(mesh_path).encode()),
            (REQUEST_ID_HEADER, request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _forward(
        self, scope: Scope, receive: Receive, request_id: str, mesh_path: list[str]
    ) -> _Response:
        """Send the request to its entry node, then wherever `fly-replay` says, appending each
        node's region to `mesh_path` as it answers; the first answer that is not a replay."""
        check_not_internal(scope["path"])
        entry = self._entry_node(_header(scope["headers"], LOCATION_HEADER))
        body = await _read_body(receive, self._settings.max_body_bytes)
        headers = forwarded_headers(scope, entry_region=entry.region, request_id=request_id)
        target = _request_target(scope)
        node = entry
        while True:
            response = await self._exchange(node, scope["method"], target, headers, body)
            mesh_path.append(node.region)
            replay = [value for name, value in response.headers if name == REPLAY_HEADER]
            if not replay:
                return _Response(response.status, response_headers(response.headers), response.body)
            target_node, source = self._next_hop(replay, node, len(body), mesh_path)
            headers = [
                *(h for h in headers if h[0] != REPLAY_SOURCE_HEADER),
                (REPLAY_SOURCE_HEADER, source.encode("latin-1")),
            ]
            node = target_node

    def _entry_node(self, location: str | None) -> MeshNode:
        if location is None:
            return self._settings.nodes[0]
        try:
            region = self._locate(location.strip())
        except ValueError as exc:
            raise UnknownLocation(location) from exc
        for node in self._settings.nodes:
            if node.region == region:
                return node
        raise EntryRegionUnavailable(location, region)

    def _next_hop(
        self, replay: list[bytes], answered_by: MeshNode, body_size: int, mesh_path: list[str]
    ) -> tuple[MeshNode, str]:
        """The node `answered_by` asked to replay to, and the `fly-replay-src` value to send."""
        value = b", ".join(replay).decode("latin-1")
        if len(replay) > 1:
            raise InvalidReplay(answered_by, value, "the header is given more than once")
        try:
            instruction = parse_replay_header(value)
        except InvalidReplayHeader as exc:
            raise InvalidReplay(answered_by, value, exc.reason) from exc
        settings = self._settings
        if len(mesh_path) > settings.max_replays:
            raise ReplayLimitReached(settings.max_replays, mesh_path)
        if body_size > settings.max_replay_body_bytes:
            raise ReplayBodyTooLarge(body_size, settings.max_replay_body_bytes, answered_by)
        try:
            target = choose_replay_target(instruction, settings.nodes, answered_by=answered_by)
        except NoReplayTarget as exc:
            raise ReplayTargetUnavailable(answered_by, exc.target) from exc
        source = format_replay_source(
            answered_by, instruction.state, at_microseconds=time.time_ns() // 1000
        )
        return target, source

    async def _exchange(
        self, node: MeshNode, method: str, target: bytes, headers: RawHeaders, body: bytes
    ) -> _Response:
        url = httpx.URL(node.url).copy_with(raw_path=target)
        request = httpx.Request(method, url, headers=headers, content=body)
        try:
            upstream = await self._upstream().send(request, stream=True)
            try:
                # Raw bytes: the body goes back exactly as encoded, matching its headers.
                content = b"".join([chunk async for chunk in upstream.aiter_raw()])
            finally:
                await upstream.aclose()
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(node, self._settings.upstream_timeout_seconds) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnreachable(node) from exc
        headers = [(name.lower(), value) for name, value in upstream.headers.raw]
        return _Response(upstream.status_code, headers, content)


def create_proxy(settings: ProxySettings, *, locate: Locate) -> MeshProxy:
    """The mesh proxy. `locate(iata)` names the region, among the nodes' regions, where a client
    at that location enters; it raises `ValueError` for a location it cannot place."""
    return MeshProxy(settings, locate=locate)


def proxy_from_environ() -> MeshProxy:
    """The proxy `authpi dev` runs: `granian --factory runtime.mesh.proxy:proxy_from_environ`."""
    # Imported here, at the one assembly point that needs the catalogue: the proxy itself only
    # takes a `locate` function, so tests and other callers can pass their own.
    from regions import locate as locate_airport
    from regions import nearest_region, region

    settings = ProxySettings.from_environ(os.environ)
    # Checked once here, so a misconfigured node region fails at start, not on every request.
    regions = tuple(region(code).code for code in settings.regions)

    def locate(iata: str) -> str:
        return nearest_region(locate_airport(iata), among=regions).code

    return create_proxy(settings, locate=locate)


def check_not_internal(path: str) -> None:
    """Refuse `/_internal/...` (node-to-node calls), however the path is spelled."""
    normalized = posixpath.normpath("/" + path.lstrip("/"))
    if normalized == INTERNAL_PREFIX or normalized.startswith(INTERNAL_PREFIX + "/"):
        raise InternalPath(path)


def forwarded_headers(scope: Scope, *, entry_region: str, request_id: str) -> RawHeaders:
    """The client's headers as a node gets them: hop-by-hop, Fly's and the location steering
    header removed; Fly's and the X-Forwarded-* headers set by the proxy."""
    received: RawHeaders = scope["headers"]
    headers = [
        (name, value)
        for name, value in _end_to_end(received)
        if name not in (LOCATION_HEADER, b"x-forwarded-for", b"x-forwarded-proto")
    ]
    headers.append((b"fly-region", entry_region.encode()))
    headers.append((REQUEST_ID_HEADER, request_id.encode()))
    client = scope.get("client")
    forwarded_for = _header(received, b"x-forwarded-for")
    if client is not None:
        client_ip = str(client[0])
        headers.append((b"fly-client-ip", client_ip.encode()))
        forwarded_for = client_ip if forwarded_for is None else f"{forwarded_for}, {client_ip}"
    if forwarded_for is not None:
        headers.append((b"x-forwarded-for", forwarded_for.encode("latin-1")))
    headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
    return headers


def response_headers(received: RawHeaders) -> RawHeaders:
    """A node's response headers (lowercase names) as the client gets them: hop-by-hop, Fly-*
    and the mesh path removed (the proxy sets its own)."""
    return [(name, value) for name, value in _end_to_end(received) if name != MESH_PATH_HEADER]


def _end_to_end(headers: RawHeaders) -> RawHeaders:
    """`headers` (lowercase names) without hop-by-hop, Proxy-* and Fly-* headers."""
    named_by_connection = {
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
    }
    return [
        (name, value)
        for name, value in headers
        if name not in _HOP_BY_HOP
        and name not in named_by_connection
        and not name.startswith((_FLY_PREFIX, _PROXY_PREFIX))
    ]


def _header(headers: RawHeaders, name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _request_target(scope: Scope) -> bytes:
    """Path and query exactly as the client sent them."""
    path: bytes = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
    query: bytes = scope.get("query_string", b"")
    return path + b"?" + query if query else path


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestBodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
