"""Outbound webhook requests: to public addresses only, never redirected, bounded in time and
in the size of what is read back.

A subscription's URL is checked when it is saved and again before every attempt: the host is
resolved, and if any address it resolves to is private, loopback, link-local, multicast,
reserved or otherwise not global, the request is not made (a deployment may allow private
addresses for local development: `AUTHPI_WEBHOOKS_ALLOW_PRIVATE`). The request then goes to
the address that was checked, with the original `Host` and TLS server name, so a name that
resolves differently a moment later (DNS rebinding) cannot steer it elsewhere.

    DestinationRefused   the URL, or an address its host resolves to, may not receive
                         webhooks (raised by `check_destination`; in an attempt it is the
                         attempt's error)

Every other failure of an attempt (refused connection, timeout, an answer other than 2xx)
is a result, `Attempt.error`, recorded and retried by the dispatcher.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, urlsplit

import httpx

MAX_URL_LENGTH: Final = 2000
ATTEMPT_TIMEOUT: Final = 10.0  # seconds for the whole attempt: resolve, connect, send, read
CONNECT_TIMEOUT: Final = 5.0
DNS_TIMEOUT: Final = 5.0
# What is read of a receiver's answer: enough for any acknowledgement, little enough that a
# hostile receiver cannot make a node buffer more than this per delivery.
MAX_RESPONSE_BYTES: Final = 64 * 1024
EXCERPT_BYTES: Final = 1024  # what the delivery record keeps of the response
USER_AGENT: Final = "AuthPI-Webhooks/1.0"


class DestinationRefused(Exception):
    """This URL may not receive webhooks; the message says why."""


@dataclass(frozen=True, slots=True)
class Attempt:
    status_code: int | None
    response_excerpt: str | None
    latency_ms: int
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def check_url(url: str, *, allow_private: bool) -> SplitResult:
    """The parts of a URL that may receive webhooks: https (or http where private addresses
    are allowed), a host, no credentials, no fragment."""
    if len(url) > MAX_URL_LENGTH:
        raise DestinationRefused(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"is not a valid URL: {exc}") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise DestinationRefused(
            "must be an https URL" if not allow_private else "must be an http or https URL"
        )
    if not parts.hostname:
        raise DestinationRefused("must name a host")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("must not carry credentials: deliveries are signed instead")
    if parts.fragment or "#" in url:
        raise DestinationRefused("must not have a fragment")
    if any(ord(char) <= 0x20 or ord(char) >= 0x7F for char in url):
        raise DestinationRefused("must be ASCII without spaces or control characters")
    if port == 0:
        raise DestinationRefused("must not use port 0")
    return parts


def refusal(address: str) -> str | None:
    """Why this address may not receive webhooks, or None if it is public."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, test in (
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a multicast", ip.is_multicast),
        ("an unspecified", ip.is_unspecified),
        ("a private", ip.is_private),
        ("a reserved", ip.is_reserved),
    ):
        if test:
            return f"{address} is {kind} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


async def resolve(parts: SplitResult, *, allow_private: bool) -> list[str]:
    """The addresses of the URL's host, each of them allowed; `DestinationRefused` if the
    host does not resolve or any address is not public (unless private ones are allowed)."""
    host = parts.hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            async with asyncio.timeout(DNS_TIMEOUT):
                found = await asyncio.get_running_loop().getaddrinfo(
                    host, _port(parts), type=socket.SOCK_STREAM
                )
        except (OSError, TimeoutError) as exc:
            raise DestinationRefused(f"its host {host} does not resolve") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise DestinationRefused(
                    f"its host {host} resolves to {reason}; webhooks go to public addresses only"
                )
    return addresses


async def check_destination(url: str, *, allow_private: bool) -> None:
    """What a subscription's URL must pass when it is saved; `DestinationRefused` says why.

    Where private addresses are allowed (local development), where the host resolves to
    does not matter, so it is not looked up at save time; every attempt still resolves it.
    """
    parts = check_url(url, allow_private=allow_private)
    if not allow_private:
        await resolve(parts, allow_private=False)


class Sender:
    """Sends deliveries; one connection pool per node, shared by every dispatcher."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # never through a proxy from the environment
            timeout=httpx.Timeout(ATTEMPT_TIMEOUT, connect=CONNECT_TIMEOUT),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> Attempt:
        started = time.perf_counter()
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                status, excerpt, error = await self._post(url, headers, body)
        except DestinationRefused as exc:
            error = f"not sent: the URL {exc}"
        except (TimeoutError, httpx.TimeoutException):
            error = f"no complete answer within {ATTEMPT_TIMEOUT:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc or 'the connection failed'}"
        latency = round((time.perf_counter() - started) * 1000)
        return Attempt(status, excerpt, latency, error)

    async def _post(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str, str | None]:
        parts = check_url(url, allow_private=self._allow_private)
        addresses = await resolve(parts, allow_private=self._allow_private)
        address = addresses[0]
        host = f"[{address}]" if ":" in address else address
        pinned = f"{parts.scheme}://{host}:{_port(parts)}{parts.path or '/'}"
        if parts.query:
            pinned += f"?{parts.query}"
        async with self._client.stream(
            "POST",
            pinned,
            content=body,
            headers={**headers, "Host": parts.netloc, "User-Agent": USER_AGENT},
            extensions={"sni_hostname": parts.hostname or ""},
        ) as response:
            read, over = await _read_capped(response)
        excerpt = read[:EXCERPT_BYTES].decode("utf-8", "replace")
        error: str | None = None
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "nowhere")
            error = f"HTTP {response.status_code} to {location}: redirects are not followed"
        elif not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}"
        if over:
            note = f"the response was over {MAX_RESPONSE_BYTES} bytes; the rest was not read"
            error = f"{error}; {note}" if error else note
        return response.status_code, excerpt, error


async def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    """At most `MAX_RESPONSE_BYTES` of the body, and whether there was more."""
    read = bytearray()
    async for chunk in response.aiter_raw():
        read += chunk
        if len(read) > MAX_RESPONSE_BYTES:
            return bytes(read[:MAX_RESPONSE_BYTES]), True
    return bytes(read), False


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)
