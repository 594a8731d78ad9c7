"""Verify AuthPI access tokens: RFC 9068 JWTs signed with the issuer's published keys.

`TokenVerifier.verify` runs the checks of RFC 9068 §4 and RFC 8725 in this order, and raises
the `InvalidToken` subclass of the first that fails:

1. the token is a JWS in compact serialization with JSON header and claims (`MalformedToken`);
2. `typ` is `at+jwt` or `application/at+jwt`, case-insensitively (`WrongTokenType`);
3. `alg` is in the allow-list, which can hold only asymmetric algorithms (`DisallowedAlgorithm`);
4. no `crit`, and no header that names or carries a key (`jku`, `x5u`, `jwk`, `x5c`): such
   tokens are refused outright rather than having those headers ignored (`UnsupportedHeader`);
5. `kid` names a key of the issuer's JWKS, refetched once on a miss (`UnknownKey`);
6. that key's type, curve and `alg` fit the token's `alg` (`DisallowedAlgorithm`);
7. the signature verifies (`BadSignature`);
8. `iss` is exactly the issuer; `aud` contains the audience; `exp` is in the future; `nbf`
   and `iat` are not (all within `leeway`); `sub`, `client_id` and `jti` are present strings
   (`InvalidClaims` subclasses).
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self

import httpx
from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from authpi_idp.discovery import discover_jwks_uri
from authpi_idp.errors import (
    BadSignature,
    DisallowedAlgorithm,
    ExpiredToken,
    ImmatureToken,
    KeySetUnavailable,
    MalformedToken,
    MissingClaim,
    UnknownKey,
    UnsupportedHeader,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from authpi_idp.jwks import (
    FAILURE_RETRY,
    MAX_MAX_AGE,
    MIN_MAX_AGE,
    REFETCH_INTERVAL,
    KeySetCache,
)

# Clock skew tolerated between the issuer and this server, in seconds, for exp, nbf and iat.
DEFAULT_LEEWAY: Final = 30.0
# AuthPI access tokens are well under 2 KiB; refuse anything absurd before decoding it.
MAX_TOKEN_LENGTH: Final = 8192
# RSA keys shorter than this are refused (NIST SP 800-131A).
MIN_RSA_BITS: Final = 2048

# The asymmetric JWS algorithms (RFC 7518 §3, RFC 8037, RFC 9864) with the key each needs:
# key type and allowed curves (None: any size, checked apart for RSA).
SIGNATURE_ALGORITHMS: Final[Mapping[str, tuple[type[Key], frozenset[str] | None]]] = {
    "ES256": (ECKey, frozenset({"P-256"})),
    "ES384": (ECKey, frozenset({"P-384"})),
    "ES512": (ECKey, frozenset({"P-521"})),
    "RS256": (RSAKey, None),
    "RS384": (RSAKey, None),
    "RS512": (RSAKey, None),
    "PS256": (RSAKey, None),
    "PS384": (RSAKey, None),
    "PS512": (RSAKey, None),
    "EdDSA": (OKPKey, frozenset({"Ed25519", "Ed448"})),
    "Ed25519": (OKPKey, frozenset({"Ed25519"})),
}

ACCESS_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
# Headers that name or carry a key, or change how the token must be processed.
REFUSED_HEADERS: Final = ("crit", "jku", "x5u", "jwk", "x5c", "b64")


@dataclass(frozen=True)
class VerifiedToken:
    """An access token whose signature and claims were checked."""

    claims: Mapping[str, Any]
    issuer: str
    subject: str
    client_id: str
    audience: tuple[str, ...]
    scopes: frozenset[str]
    token_id: str
    issued_at: int
    expires_at: int
    key_id: str
    algorithm: str
    # The organization context, when the token carries one (`org`).
    org: Mapping[str, Any] | None = None
    # RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to (`cnf.jkt`).
    jkt: str | None = field(default=None)

    def has_scopes(self, *scopes: str) -> bool:
        return all(scope in self.scopes for scope in scopes)


class TokenVerifier:
    """Verifies the access tokens of one AuthPI issuer for one audience.

    `issuer` is the issuer URL (`https://id.example.com/i_01...`), `audience` this resource
    server's identifier. The keys come from `jwks_uri`, by default `{issuer}/jwks.json`, or,
    with `discover=True`, from the issuer's discovery document. Use one verifier per process:
    it owns the key cache. Close it (or use `async with`) to close the HTTP client it made.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        algorithms: Collection[str] = ("ES256",),
        jwks_uri: str | None = None,
        discover: bool = False,
        leeway: float = DEFAULT_LEEWAY,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        min_cache_age: float = MIN_MAX_AGE,
        max_cache_age: float = MAX_MAX_AGE,
        refetch_interval: float = REFETCH_INTERVAL,
        failure_retry: float = FAILURE_RETRY,
    ) -> None:
        if not issuer.startswith(("https://", "http://")) or issuer.endswith("/"):
            raise ValueError("issuer must be an http(s) URL without a trailing slash")
        if not audience:
            raise ValueError("audience must not be empty")
        if isinstance(algorithms, str) or not algorithms:
            raise ValueError("algorithms must be a non-empty collection of algorithm names")
        unsupported = sorted(set(algorithms) - SIGNATURE_ALGORITHMS.keys())
        if unsupported:
            raise ValueError(
                f"unsupported algorithms {unsupported}: only asymmetric signatures "
                f"({', '.join(SIGNATURE_ALGORITHMS)}) can verify tokens from an issuer"
            )
        if jwks_uri is not None and discover:
            raise ValueError("give jwks_uri or discover=True, not both")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = frozenset(algorithms)
        self.leeway = leeway
        self._clock = clock
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._min_cache_age = min_cache_age
        self._max_cache_age = max_cache_age
        self._refetch_interval = refetch_interval
        self._failure_retry = failure_retry
        self._keys: KeySetCache | None = None
        if not discover:
            self._keys = self._key_cache(jwks_uri or f"{issuer}/jwks.json")
        self._discovery_lock = asyncio.Lock()
        self._discovery_failed_at = float("-inf")
        self._discovery_error = ""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def verify(self, token: str) -> VerifiedToken:
        """The checked token; raises an `InvalidToken` subclass, or `KeySetUnavailable`."""
        signed = _parse(token)
        header = signed.headers()
        _check_type(header)
        algorithm = self._check_algorithm(header)
        _check_refused_headers(header)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise UnknownKey("the token has no 'kid' header")
        key = await (await self._key_set()).key(kid)
        _check_key_fits(key, algorithm)
        _check_signature(signed, key, algorithm)
        return self._check_claims(_claims(signed), kid, algorithm)

    async def _key_set(self) -> KeySetCache:
        if self._keys is not None:
            return self._keys
        async with self._discovery_lock:
            if self._keys is None:
                if self._clock() - self._discovery_failed_at < self._failure_retry:
                    raise KeySetUnavailable(self._discovery_error)
                try:
                    uri = await discover_jwks_uri(self.issuer, self._http)
                except KeySetUnavailable as exc:
                    self._discovery_failed_at = self._clock()
                    self._discovery_error = str(exc)
                    raise
                self._keys = self._key_cache(uri)
            return self._keys

    def _key_cache(self, uri: str) -> KeySetCache:
        return KeySetCache(
            uri,
            self._http,
            clock=self._clock,
            min_max_age=self._min_cache_age,
            max_max_age=self._max_cache_age,
            refetch_interval=self._refetch_interval,
            failure_retry=self._failure_retry,
        )

    def _check_algorithm(self, header: Mapping[str, Any]) -> str:
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            allowed = ", ".join(sorted(self.algorithms))
            raise DisallowedAlgorithm(f"the token's 'alg' is not one of the allowed: {allowed}")
        return algorithm

    def _check_claims(self, claims: dict[str, Any], kid: str, algorithm: str) -> VerifiedToken:
        """RFC 9068 §4 and RFC 7519 §4.1."""
        if claims.get("iss") != self.issuer:
            raise WrongIssuer(f"the token was not issued by {self.issuer}")
        audience = _audience(claims)
        if self.audience not in audience:
            raise WrongAudience(f"the token's 'aud' does not include {self.audience}")
        now = self._clock()
        expires_at = _number(claims, "exp")
        if now >= expires_at + self.leeway:
            raise ExpiredToken("the token has expired")
        if "nbf" in claims and _number(claims, "nbf") > now + self.leeway:
            raise ImmatureToken("the token is not valid yet ('nbf' is in the future)")
        issued_at = _number(claims, "iat")
        if issued_at > now + self.leeway:
            raise ImmatureToken("the token was issued in the future ('iat')")
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise MissingClaim("scope", "a space-separated string")
        return VerifiedToken(
            claims=claims,
            issuer=self.issuer,
            subject=_string(claims, "sub"),
            client_id=_string(claims, "client_id"),
            audience=audience,
            scopes=frozenset(scope.split()),
            token_id=_string(claims, "jti"),
            issued_at=int(issued_at),
            expires_at=int(expires_at),
            key_id=kid,
            algorithm=algorithm,
            org=_org(claims),
            jkt=_jkt(claims),
        )


def _parse(token: str) -> jws.CompactSignature:
    if not isinstance(token, str) or not token:
        raise MalformedToken("the token is empty")
    if len(token) > MAX_TOKEN_LENGTH:
        raise MalformedToken(f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    try:
        return jws.extract_compact(token.encode("ascii"))
    except (JoseError, ValueError, TypeError) as exc:
        raise MalformedToken("the token is not a JWS in compact serialization") from exc


def _check_type(header: Mapping[str, Any]) -> None:
    """RFC 9068 §4: `typ` is `at+jwt`; RFC 7515 §4.1.9: compared case-insensitively."""
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise WrongTokenType("the token's 'typ' header is not 'at+jwt'")


def _check_refused_headers(header: Mapping[str, Any]) -> None:
    present = [name for name in REFUSED_HEADERS if name in header]
    if present:
        raise UnsupportedHeader(f"the token carries refused headers: {', '.join(present)}")


def _check_key_fits(key: Key, algorithm: str) -> None:
    """RFC 8725 §3.1: the key decides the algorithm family, never the token alone."""
    key_type, curves = SIGNATURE_ALGORITHMS[algorithm]
    fits = isinstance(key, key_type) and (key.alg is None or key.alg == algorithm)
    if fits and curves is not None:
        fits = isinstance(key, ECKey | OKPKey) and key.curve_name in curves
    if fits and isinstance(key, RSAKey):
        fits = key.raw_value.key_size >= MIN_RSA_BITS
    if not fits:
        raise DisallowedAlgorithm(f"the token's key cannot verify {algorithm} signatures")


def _check_signature(signed: jws.CompactSignature, key: Key, algorithm: str) -> None:
    registry = jws.JWSRegistry(algorithms=[algorithm], strict_check_header=False)
    try:
        with warnings.catch_warnings():
            # "EdDSA" is deprecated by RFC 9864 but is what issuers send; the caller allowed it.
            warnings.simplefilter("ignore", SecurityWarning)
            valid = jws.validate_compact(signed, key, registry=registry)
    except JoseError as exc:
        raise BadSignature("the token's signature does not verify") from exc
    if not valid:
        raise BadSignature("the token's signature does not verify")


def _claims(signed: jws.CompactSignature) -> dict[str, Any]:
    try:
        claims = json.loads(signed.payload)
    except ValueError as exc:
        raise MalformedToken("the token's payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise MalformedToken("the token's payload is not a JSON object")
    return claims


def _string(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise MissingClaim(name, "a non-empty string")
    return value


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MissingClaim(name, "a NumericDate")
    return float(value)


def _audience(claims: Mapping[str, Any]) -> tuple[str, ...]:
    value = claims.get("aud")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise MissingClaim("aud", "a string or an array of strings")


def _org(claims: Mapping[str, Any]) -> Mapping[str, Any] | None:
    value = claims.get("org")
    if value is None:
        return None
    if isinstance(value, str):
        return {"id": value}
    if isinstance(value, dict):
        return value
    raise MissingClaim("org", "an object or an organization id")


def _jkt(claims: Mapping[str, Any]) -> str | None:
    """RFC 9449 §6.1: `cnf.jkt`, the SHA-256 JWK thumbprint of the DPoP key."""
    confirmation = claims.get("cnf")
    if confirmation is None:
        return None
    if not isinstance(confirmation, dict):
        raise MissingClaim("cnf", "an object")
    jkt = confirmation.get("jkt")
    if jkt is None:
        return None
    if not isinstance(jkt, str) or not jkt:
        raise MissingClaim("cnf.jkt", "a non-empty string")
    return jkt
