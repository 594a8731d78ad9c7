"""DPoP proofs at the token endpoint (RFC 9449 §4.3), and the nonces the server hands out.

A proof is a JWT with `typ: dpop+jwt`, an asymmetric `alg`, and the public `jwk` that signs
it; its claims bind it to this request (`htm`, `htu`), to now (`iat`), to one use (`jti`),
and to a server nonce (§8). Nonces are stateless: a time window and an HMAC under a key
derived from the deployment's key-encryption key, so any node can check what another issued.
A nonce is good for its window and the next one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import orjson
from joserfc import jws
from joserfc.errors import JoseError

from api.oauth.errors import InvalidDpopProof, UseDpopNonce
from api.oauth.replay import SeenOnce
from runtime.edge import json_segment
from shards.keys import PRIVATE_MEMBERS, import_jwk

PROOF_ALGS: Final = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
IAT_WINDOW: Final = 60  # seconds either side of now
NONCE_WINDOW: Final = 300  # seconds


@dataclass(frozen=True, slots=True)
class Proof:
    jkt: str  # RFC 7638 thumbprint of the proof's key: the token's `cnf.jkt`


class DpopChecker:
    def __init__(self, kek: bytes, *, shared: bool = False) -> None:
        self._key = hmac.new(kek, b"authpi dpop nonce", hashlib.sha256).digest()
        self.seen = SeenOnce(shared=shared)  # proof `jti`s, told to the peers if shared

    def nonce(self, issuer_id: str, now: float) -> str:
        return self._nonce(issuer_id, int(now) // NONCE_WINDOW)

    def _nonce(self, issuer_id: str, window: int) -> str:
        packed = struct.pack(">Q", window)
        mac = hmac.new(self._key, packed + issuer_id.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(packed + mac).rstrip(b"=").decode()

    def _nonce_ok(self, issuer_id: str, nonce: Any, now: float) -> bool:
        if not isinstance(nonce, str):
            return False
        window = int(now) // NONCE_WINDOW
        return any(
            hmac.compare_digest(nonce.encode(), self._nonce(issuer_id, w).encode())
            for w in (window, window - 1)
        )

    def check(self, proof: str, *, issuer_id: str, method: str, url: str, now: float) -> Proof:
        header = _header(proof)
        if header.get("typ") != "dpop+jwt":
            raise InvalidDpopProof("the DPoP proof's typ must be dpop+jwt")
        alg = header.get("alg")
        if alg not in PROOF_ALGS:
            raise InvalidDpopProof(f"the DPoP proof's alg must be one of {', '.join(PROOF_ALGS)}")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or PRIVATE_MEMBERS & set(jwk):
            raise InvalidDpopProof("the DPoP proof must carry a public jwk")
        try:
            key = import_jwk(jwk)
            verified = jws.deserialize_compact(proof, key, algorithms=[str(alg)])
            claims = orjson.loads(verified.payload)
        except (JoseError, ValueError, TypeError):
            raise InvalidDpopProof("the DPoP proof's signature does not verify") from None
        if not isinstance(claims, dict):
            raise InvalidDpopProof("the DPoP proof's payload is not a JSON object")
        if claims.get("htm") != method:
            raise InvalidDpopProof(f"the DPoP proof's htm must be {method}")
        if not isinstance(claims.get("htu"), str) or _normal(claims["htu"]) != _normal(url):
            raise InvalidDpopProof(f"the DPoP proof's htu must be {url}")
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or abs(iat - now) > IAT_WINDOW:
            raise InvalidDpopProof("the DPoP proof's iat is missing or not recent")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 1 <= len(jti) <= 256:
            raise InvalidDpopProof("the DPoP proof needs a jti")
        if not self._nonce_ok(issuer_id, claims.get("nonce"), now):
            raise UseDpopNonce(
                "retry with the nonce in the DPoP-Nonce header", nonce=self.nonce(issuer_id, now)
            )
        jkt = key.thumbprint()
        if not self.seen.first_use(f"{jkt} {jti}", now + 2 * IAT_WINDOW, now):
            raise InvalidDpopProof("this DPoP proof was already used")
        return Proof(jkt)


def _header(proof: str) -> Mapping[str, Any]:
    parts = proof.split(".")
    header = json_segment(parts[0]) if len(parts) == 3 else None
    if header is None:
        raise InvalidDpopProof("the DPoP proof is not a compact JWS")
    return header


def _normal(url: str) -> tuple[str, str, str]:
    """RFC 9449 §4.3: compare without query and fragment, scheme and host case-insensitively."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/"
