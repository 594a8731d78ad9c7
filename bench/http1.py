"""A minimal HTTP/1.1 client over asyncio streams, for load generation only.

httpx spent about 1.5 ms of CPU per request on this benchmark's machines, so a load loop built
on it saturated its own core near 500 requests/s and measured itself rather than the node.
This client keeps one connection alive, writes each request in one `write()` and reads
`Content-Length` or chunked responses: enough for AuthPI's JSON answers, nothing more.

    ClientError             the exchange failed; the connection is closed
    └── MalformedResponse   the server's bytes were not an HTTP/1.1 response
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

MAX_HEAD_BYTES: Final = 64 * 1024


class ClientError(Exception):
    """The request could not be sent or its response read."""


class MalformedResponse(ClientError):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Connection:
    """One keep-alive connection; reopened transparently when the server closes it."""

    def __init__(self, host: str, port: int, headers: Mapping[str, str]) -> None:
        self.host = host
        self.port = port
        self.headers = dict(headers)
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def another(self) -> Connection:
        """A connection of its own to the same server, with the same headers."""
        return Connection(self.host, self.port, self.headers)

    async def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._fixed}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            reader, writer = await self._open()
            writer.write(head.encode() + b"\r\n" + (body or b""))
            response = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise ClientError(f"{method} {path}: {exc!r}") from exc
        except MalformedResponse:
            await self.close()
            raise
        if response.headers.get("connection", "").lower() == "close":
            await self.close()
        return response

    async def close(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):  # already reset by the peer: closed either way
                await writer.wait_closed()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(
                self.host, self.port, limit=MAX_HEAD_BYTES
            )
        return self._streams


async def _read_response(reader: asyncio.StreamReader) -> Response:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *header_lines = head.rstrip("\r\n").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise MalformedResponse(f"not an HTTP/1.1 status line: {status_line!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise MalformedResponse(f"not a header line: {line!r}")
        headers[name.strip().lower()] = value.strip()
    status = int(parts[1])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Response(status, headers, await _read_chunks(reader))
    length = headers.get("content-length", "0")
    if not length.isdigit():
        raise MalformedResponse(f"bad Content-Length {length!r}")
    return Response(status, headers, await reader.readexactly(int(length)))


async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
    """RFC 9112 §7.1: chunks of hex-sized data up to a zero-sized one, then the trailers."""
    body = bytearray()
    while True:
        size_line = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise MalformedResponse(f"bad chunk size {size_line!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailer fields, unused
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)  # the CRLF after the chunk
