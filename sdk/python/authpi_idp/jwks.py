"""The issuer's public signing keys (RFC 7517 JWK Set), fetched over HTTP and cached.

The cache keeps the set for the `max-age` the issuer sends (bounded both ways), fetches it once
however many requests wait for it, and refetches early only when a token names a `kid` it does
not know (a key rotation), at most once per `refetch_interval` so that tokens with random
`kid`s cannot make it hammer the issuer. When a refetch fails, the last good set stays in use
and the fetch is retried after `failure_retry`.

Keys come only from the configured URL, never from a token's own headers (RFC 8725 §3.10).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey, RSAKey

from authpi_idp.errors import KeySetUnavailable, UnknownKey

logger = logging.getLogger("authpi_idp")

# AuthPI sends `max-age` on its JWKS; these bound what a misconfigured cache header can do.
MIN_MAX_AGE: Final = 30.0  # a `max-age=0` or `no-store` must not mean a fetch per request
MAX_MAX_AGE: Final = 86_400.0  # a removed key stops being trusted within a day at the latest
DEFAULT_MAX_AGE: Final = 300.0  # no `Cache-Control` at all: five minutes, as AuthPI's own
# An unknown `kid` triggers a refetch at most this often (RFC 8725 §3.10 key selection).
REFETCH_INTERVAL: Final = 30.0
# After a failed fetch, wait this long before trying again.
FAILURE_RETRY: Final = 5.0
FETCH_TIMEOUT: Final = 5.0

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_STORE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)

# Key types this package verifies with; `oct` (shared secrets) never belongs in a public JWKS.
_VERIFYING_KEYS: Final = (ECKey, RSAKey, OKPKey)


def cache_lifetime(
    cache_control: str | None,
    *,
    minimum: float = MIN_MAX_AGE,
    maximum: float = MAX_MAX_AGE,
    default: float = DEFAULT_MAX_AGE,
) -> float:
    """Seconds to keep a response with this `Cache-Control` (RFC 9111 §5.2.2), bounded."""
    if cache_control is None:
        return max(minimum, min(maximum, default))
    if _NO_STORE.search(cache_control):
        return minimum
    match = _MAX_AGE.search(cache_control)
    seconds = float(match.group(1)) if match else default
    return max(minimum, min(maximum, seconds))


def parse_key_set(document: Any) -> dict[str, Key]:
    """The usable signing keys of a JWK Set, by `kid`.

    Keys without a `kid`, meant for encryption (`use` other than `sig`), symmetric, or that
    do not import are left out, so that one odd key does not make the whole set unusable.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeySetUnavailable("the JWKS is not a JSON object with a 'keys' array")
    keys: dict[str, Key] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        try:
            key = JWKRegistry.import_key(dict(entry))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            logger.warning("skipping JWKS key %r: %s", kid, exc)
            continue
        if not isinstance(key, _VERIFYING_KEYS):
            logger.warning("skipping JWKS key %r: key type %s", kid, entry.get("kty"))
            continue
        keys.setdefault(kid, key)
    return keys


class KeySetCache:
    """The JWK Set at `uri`, fetched on first use and kept per its `Cache-Control`.

    `key(kid)` raises `UnknownKey` when the set has no such key, and `KeySetUnavailable`
    when no set could ever be fetched.
    """

    def __init__(
        self,
        uri: str,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        min_max_age: float = MIN_MAX_AGE,
        max_max_age: float = MAX_MAX_AGE,
        refetch_interval: float = REFETCH_INTERVAL,
        failure_retry: float = FAILURE_RETRY,
    ) -> None:
        if not 0 <= min_max_age <= max_max_age:
            raise ValueError("need 0 <= min_max_age <= max_max_age")
        self.uri = uri
        self._http = http
        self._clock = clock
        self._min_max_age = min_max_age
        self._max_max_age = max_max_age
        self._refetch_interval = refetch_interval
        self._failure_retry = failure_retry
        self._keys: dict[str, Key] | None = None
        self._next_fetch_at = float("-inf")
        self._last_attempt_at = float("-inf")
        self._last_error = "the JWKS was never fetched"
        # Fetch attempts finished so far. A caller notes it before waiting for the lock; if it
        # changed meanwhile, another caller's fetch is the answer and no second one starts.
        self._finished = 0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> Key:
        if self._clock() >= self._next_fetch_at:
            await self._refresh(self._finished)
        if self._keys is None:
            raise KeySetUnavailable(self._last_error)
        key = self._keys.get(kid)
        if key is None and self._clock() - self._last_attempt_at >= self._refetch_interval:
            await self._refresh(self._finished)
            key = self._keys.get(kid)
        if key is None:
            raise UnknownKey("no key in the issuer's JWKS has the token's 'kid'")
        return key

    async def _refresh(self, seen: int) -> None:
        async with self._lock:
            if self._finished != seen:
                return  # another caller fetched while this one waited: use its result
            now = self._last_attempt_at = self._clock()
            try:
                keys, lifetime = await self._fetch()
            except KeySetUnavailable as exc:
                self._finished += 1
                self._last_error = str(exc)
                self._next_fetch_at = now + self._failure_retry
                logger.warning(
                    "JWKS fetch failed%s: %s",
                    "" if self._keys is None else " (keeping the last good set)",
                    exc,
                )
                return
            self._finished += 1
            self._keys = keys
            self._next_fetch_at = now + lifetime

    async def _fetch(self) -> tuple[dict[str, Key], float]:
        try:
            response = await self._http.get(
                self.uri,
                headers={"Accept": "application/jwk-set+json, application/json"},
                timeout=FETCH_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise KeySetUnavailable(f"GET {self.uri} failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise KeySetUnavailable(f"GET {self.uri} answered {response.status_code}")
        try:
            document = response.json()
        except ValueError as exc:
            raise KeySetUnavailable(f"GET {self.uri} did not answer JSON") from exc
        lifetime = cache_lifetime(
            response.headers.get("Cache-Control"),
            minimum=self._min_max_age,
            maximum=self._max_max_age,
        )
        return parse_key_set(document), lifetime
