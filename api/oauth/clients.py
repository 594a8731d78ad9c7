"""Client authentication at the token, introspection and revocation endpoints.

Clients (`c_`) and agents (`agt_`) authenticate the same three ways, against the verifiers
in the issuer's edge snapshot:

- `client_secret_basic`: the Basic credentials are the form-urlencoded client id and secret
  (RFC 6749 §2.3.1), so both are URL-decoded after the base64;
- `client_secret_post`: `client_id` and `client_secret` in the body;
- `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT signed with a key of one
  of the principal's `public_key` verifiers, `iss` = `sub` = the client id, `aud` naming
  the issuer or the endpoint, a near `exp`, and a `jti` never seen before.

Using more than one method at once is refused (RFC 6749 §2.3). Secrets are compared as
SHA-256 digests in constant time, against every secret verifier of the principal.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote_plus

import httpx
import orjson
from joserfc import jwt
from joserfc.errors import JoseError

from api.oauth.errors import InvalidClient, InvalidRequest
from api.oauth.form import Form
from api.oauth.replay import SeenOnce
from runtime.edge import EdgeCache, IssuerEdge, json_segment
from shards.clock import Clock
from shards.keys import import_jwk

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS: Final = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
# Seconds from now to `exp`. RFC 7523 sets no bound; an hour is what widely used clients
# sign by default (Authlib's PrivateKeyJWT), and the `jti` is remembered that long.
MAX_ASSERTION_LIFETIME: Final = 3600
LEEWAY: Final = 30
REMOTE_JWKS_TTL: Final = 300.0
REMOTE_JWKS_MAX_BYTES: Final = 64 * 1024
REMOTE_JWKS_TIMEOUT: Final = 3.0


class UnverifiedAssertion(InvalidClient):
    """No key of the principal verifies the assertion."""


@dataclass(frozen=True, slots=True)
class Authenticated:
    client_id: str
    principal: Mapping[str, Any]
    method: str

    @property
    def is_agent(self) -> bool:
        return bool(self.principal["kind"] == "agent")


class ClientAuthenticator:
    """One per node: holds the assertion replay set and the remote JWKS cache."""

    def __init__(
        self, edges: EdgeCache, http: httpx.AsyncClient, clock: Clock, *, shared: bool = False
    ) -> None:
        self._edges = edges
        self._clock = clock
        self._http = http
        self.seen = SeenOnce(shared=shared)  # assertion `jti`s, told to the peers if shared
        self._remote: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._remote_locks: dict[str, asyncio.Lock] = {}

    async def authenticate(
        self, edge: IssuerEdge, form: Form, authorization: str | None, endpoint: str
    ) -> tuple[IssuerEdge, Authenticated]:
        realm = edge.url
        basic = _basic(authorization, realm)
        posted_id = form.get("client_id")
        posted_secret = form.get("client_secret")
        assertion = form.get("client_assertion")
        assertion_type = form.get("client_assertion_type")
        methods = [
            name
            for name, used in (
                ("client_secret_basic", basic is not None),
                ("client_secret_post", posted_secret is not None),
                ("private_key_jwt", assertion is not None or assertion_type is not None),
            )
            if used
        ]
        if len(methods) > 1:
            raise InvalidRequest(f"use one client authentication method, not {len(methods)}")
        if not methods:
            raise InvalidClient("client authentication is required", realm=realm)
        method = methods[0]
        if method == "private_key_jwt":
            if assertion_type != ASSERTION_TYPE:
                raise InvalidClient(f"client_assertion_type must be {ASSERTION_TYPE}", realm=realm)
            if assertion is None:
                raise InvalidClient("client_assertion is missing", realm=realm)
            client_id = _unverified_subject(assertion, realm)
            if posted_id is not None and posted_id != client_id:
                raise InvalidClient("client_id does not match the assertion", realm=realm)
            edge, principal = await self._principal(edge, client_id)
            try:
                await self._check_assertion(edge, client_id, principal, assertion, endpoint)
            except UnverifiedAssertion:
                # perhaps a key newer than this node's snapshot (rate-limited per issuer)
                fresh = await self._edges.refresh_on_miss(edge.issuer_id)
                if fresh is None or fresh is edge:
                    raise
                edge, principal = await self._principal(fresh, client_id)
                await self._check_assertion(edge, client_id, principal, assertion, endpoint)
            return edge, Authenticated(client_id, principal, method)
        if basic is not None:
            client_id, secret = basic
            if posted_id is not None and posted_id != client_id:
                raise InvalidRequest("client_id in the body differs from the Basic credentials")
        else:
            if posted_id is None:
                raise InvalidClient("client_id is missing", realm=realm)
            client_id, secret = posted_id, posted_secret or ""
        edge, principal = await self._principal(edge, client_id)
        if not _secret_matches(principal, secret):
            # perhaps a verifier newer than this node's snapshot (rate-limited per issuer)
            fresh = await self._edges.refresh_on_miss(edge.issuer_id)
            if fresh is not None and fresh is not edge:
                edge, principal = await self._principal(fresh, client_id)
            if not _secret_matches(principal, secret):
                raise InvalidClient("the client could not be authenticated", realm=realm)
        return edge, Authenticated(client_id, principal, method)

    async def _principal(
        self, edge: IssuerEdge, client_id: str
    ) -> tuple[IssuerEdge, Mapping[str, Any]]:
        principal = edge.principals.get(client_id)
        if principal is None:
            fresh = await self._edges.refresh_on_miss(edge.issuer_id)
            if fresh is not None:
                edge = fresh
                principal = edge.principals.get(client_id)
        if principal is None:
            raise InvalidClient("the client could not be authenticated", realm=edge.url)
        if principal["status"] != "active":
            raise InvalidClient(f"{client_id} is disabled", realm=edge.url)
        return edge, principal

    async def _check_assertion(
        self,
        edge: IssuerEdge,
        client_id: str,
        principal: Mapping[str, Any],
        assertion: str,
        endpoint: str,
    ) -> None:
        realm = edge.url
        keys = await self._keys(principal)
        if not keys:
            raise UnverifiedAssertion(f"{client_id} has no public key verifier", realm=realm)
        header = _header(assertion, realm)
        kid = header.get("kid")
        candidates = [k for k in keys if kid is None or k.get("kid") == kid]
        claims: Mapping[str, Any] | None = None
        for jwk in candidates:
            try:
                claims = jwt.decode(
                    assertion, import_jwk(jwk, public=True), algorithms=list(ASSERTION_ALGS)
                ).claims
                break
            except (JoseError, ValueError):
                continue
        if claims is None:
            raise UnverifiedAssertion(
                "the client assertion's signature does not verify", realm=realm
            )
        now = self._clock.now().timestamp()
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences
        problems = []
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            problems.append("iss and sub must be the client id")
        if not isinstance(audiences, list) or not ({edge.url, endpoint} & set(audiences)):
            problems.append(f"aud must name the issuer {edge.url}")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= now - LEEWAY:
            problems.append("exp is missing or past")
        elif exp > now + MAX_ASSERTION_LIFETIME:
            problems.append(f"exp must be within {MAX_ASSERTION_LIFETIME} seconds")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf > now + LEEWAY:
            problems.append("nbf is in the future")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            problems.append("jti is required")
        if problems:
            raise InvalidClient("client assertion: " + "; ".join(problems), realm=realm)
        assert isinstance(exp, int | float)
        assert isinstance(jti, str)
        if not self.seen.first_use(f"{edge.issuer_id} {client_id} {jti}", exp + LEEWAY, now):
            raise InvalidClient("this client assertion was already used", realm=realm)

    async def _keys(self, principal: Mapping[str, Any]) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = []
        for verifier in principal["verifiers"]:
            if verifier["type"] != "public_key":
                continue
            if verifier.get("jwk"):
                keys.append(dict(verifier["jwk"]))
            elif verifier.get("jwks_uri"):
                keys.extend(await self._remote_jwks(verifier["jwks_uri"]))
        return keys

    async def _remote_jwks(self, uri: str) -> list[dict[str, Any]]:
        cached = self._remote.get(uri)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        lock = self._remote_locks.setdefault(uri, asyncio.Lock())
        async with lock:
            cached = self._remote.get(uri)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            keys: list[dict[str, Any]] = []
            try:
                async with self._http.stream(
                    "GET", uri, timeout=REMOTE_JWKS_TIMEOUT, follow_redirects=False
                ) as response:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > REMOTE_JWKS_MAX_BYTES:
                            raise ValueError("JWKS too large")
                    if response.status_code == 200:
                        document = orjson.loads(body)
                        keys = [k for k in document.get("keys", []) if isinstance(k, dict)]
            except (httpx.HTTPError, ValueError, orjson.JSONDecodeError, AttributeError):
                keys = cached[1] if cached else []
            self._remote[uri] = (time.monotonic() + REMOTE_JWKS_TTL, keys)
            return keys


def _basic(authorization: str | None, realm: str) -> tuple[str, str] | None:
    if authorization is None:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient(f"unsupported authorization scheme {scheme[:20]}", realm=realm)
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        raw_id, sep, raw_secret = decoded.partition(":")
        if not sep:
            raise ValueError("no colon")
        return (
            unquote_plus(raw_id, errors="strict"),
            unquote_plus(raw_secret, errors="strict"),
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClient("malformed Basic credentials", realm=realm) from None


def _secret_matches(principal: Mapping[str, Any], secret: str) -> bool:
    presented = hashlib.sha256(secret.encode()).hexdigest().encode()
    matched = False
    for verifier in principal["verifiers"]:
        stored = verifier.get("secret_digest")
        if stored and hmac.compare_digest(presented, stored.encode()):
            matched = True
    return matched


def _segment(token: str, index: int, realm: str) -> dict[str, Any]:
    parts = token.split(".")
    value = json_segment(parts[index]) if len(parts) == 3 else None
    if value is None:
        raise InvalidClient("the client assertion is not a compact JWS", realm=realm)
    return value


def _header(token: str, realm: str) -> dict[str, Any]:
    return _segment(token, 0, realm)


def _unverified_subject(token: str, realm: str) -> str:
    """Which principal the assertion claims to be, to find the keys that must verify it."""
    subject = _segment(token, 1, realm).get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidClient("the client assertion has no sub", realm=realm)
    return subject
