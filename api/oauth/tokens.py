"""RFC 9068 access tokens: minted at the edge with the issuer's current key, and read back.

Minting is the hot path of the product, so it does the least that is correct: the header
for a key is encoded once, claims are serialized with orjson, and the signature is the only
real work. Reading (for introspection and revocation) refuses anything AuthPI would not have
issued: another `typ` or `alg`, a `kid` the issuer does not publish, a bad signature,
another issuer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any, Final

import orjson

from runtime.edge import IssuerEdge, KeyMaterial, json_segment

JWT_TYP: Final = "at+jwt"
ACCEPTED_ALGS: Final = frozenset({"ES256", "RS256", "EdDSA"})
LEEWAY: Final = 30

_headers: dict[tuple[str, str], bytes] = {}


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _header(key: KeyMaterial) -> bytes:
    cached = _headers.get((key.kid, key.alg))
    if cached is None:
        cached = _b64(orjson.dumps({"typ": JWT_TYP, "alg": key.alg, "kid": key.kid}))
        _headers[(key.kid, key.alg)] = cached
    return cached


def new_jti() -> str:
    return secrets.token_urlsafe(16)


def mint(key: KeyMaterial, claims: Mapping[str, Any]) -> str:
    signing_input = _header(key) + b"." + _b64(orjson.dumps(claims))
    return (signing_input + b"." + _b64(key.sign(signing_input))).decode()


class Unreadable(Exception):
    """Not a token this issuer issued and still vouches for; the reason is for logs only."""


def unverified_kid(token: str) -> str | None:
    try:
        header = _decode(token.split(".", 1)[0])
    except Unreadable:
        return None
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def read(edge: IssuerEdge, token: str, *, now: float) -> dict[str, Any]:
    """The claims of a valid, unexpired access token of this issuer."""
    parts = token.split(".")
    if len(parts) != 3:
        raise Unreadable("not a compact JWS")
    header = _decode(parts[0])
    if str(header.get("typ", "")).lower() not in (JWT_TYP, f"application/{JWT_TYP}"):
        raise Unreadable("typ is not at+jwt")
    if header.get("alg") not in ACCEPTED_ALGS or "crit" in header:
        raise Unreadable("alg not accepted")
    kid = header.get("kid")
    key = edge.published(kid, now) if isinstance(kid, str) else None
    if key is None or key.alg != header["alg"]:
        raise Unreadable("unknown kid")
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except (binascii.Error, ValueError):
        raise Unreadable("signature is not base64url") from None
    if not key.verify(f"{parts[0]}.{parts[1]}".encode(), signature):
        raise Unreadable("bad signature")
    claims = _decode(parts[1])
    if claims.get("iss") != edge.url:
        raise Unreadable("another issuer")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or exp <= now:
        raise Unreadable("expired")
    if not isinstance(iat, int) or iat > now + LEEWAY:
        raise Unreadable("issued in the future")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int) or nbf > now + LEEWAY):
        raise Unreadable("not yet valid")
    if not isinstance(claims.get("jti"), str) or not isinstance(claims.get("client_id"), str):
        raise Unreadable("missing jti or client_id")
    return claims


def _decode(segment: str) -> dict[str, Any]:
    value = json_segment(segment)
    if value is None:
        raise Unreadable("not a base64url JSON object")
    return value


class VerifiedTokens:
    """Tokens whose signature this node has checked (or made).

    A signature never stops being valid, so introspecting a token again costs a hash and a
    dictionary lookup, then a decode of its payload, instead of a signature check; what can
    change (expiry, revocation, the client's status) is checked on every call. Entries are
    128-bit BLAKE2b digests of the token, in two generations: when the young one is full it
    becomes the old one and the old one is dropped, so memory is bounded, eviction costs
    nothing per call, and the garbage collector has two objects to look at, not one per token.
    """

    def __init__(self, capacity: int = 65_536) -> None:
        self._young: dict[bytes, str] = {}
        self._old: dict[bytes, str] = {}
        self._generation = capacity // 2

    def remember(self, issuer_id: str, token: str) -> None:
        if len(self._young) >= self._generation:
            self._old, self._young = self._young, {}
        self._young[_digest(token)] = issuer_id

    def recall(self, issuer_id: str, token: str) -> dict[str, Any] | None:
        """The claims of a token verified before for this issuer; None if it was not."""
        digest = _digest(token)
        known = self._young.get(digest) or self._old.get(digest)
        if known != issuer_id:
            return None
        return _decode(token.split(".", 2)[1])


def _digest(token: str) -> bytes:
    return hashlib.blake2b(token.encode(), digest_size=16).digest()


def current(claims: dict[str, Any], now: float) -> bool:
    """Not expired, and not issued or valid only in the future."""
    nbf = claims.get("nbf")
    return (
        claims["exp"] > now
        and claims["iat"] <= now + LEEWAY
        and (nbf is None or nbf <= now + LEEWAY)
    )
