"""Issuers' signing keys: generated here, sealed at rest, rotated by timestamps.

A key's life is three instants. It is *published* (in the JWKS) from creation, *signs* from
`activates_at` until `retires_at`, and leaves the JWKS at `expires_at`. A rotation creates
the successor with `activates_at` at least one JWKS cache lifetime (plus the bound on edge
snapshot staleness) ahead, so every verifier has fetched it before the first token it signs;
the predecessor retires at that same instant and stays published for the longest token
lifetime plus the JWKS cache lifetime, so every token it signed verifies until it expires.
Since the states follow from the clock, no job has to run for a rotation to complete.

Private keys are sealed with AES-256-GCM under the deployment's key-encryption key, with the
issuer and kid as associated data, so a sealed key copied onto another issuer's row does not
open. Edge snapshots carry keys sealed; nodes open them in memory.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc.jwk import ECKey, OKPKey, RSAKey

from shards.clock import Clock, rfc3339
from shards.database import Database, Row, Transaction
from shards.errors import Conflict, StorageError
from shards.outbox import SYSTEM_ACTOR, Outbox

log = logging.getLogger("authpi.keys")

# How long verifiers may cache the JWKS (`Cache-Control: max-age` of `/jwks.json`).
JWKS_MAX_AGE: Final = 300
# The bound on how stale an edge node's copy of an issuer can be (see runtime.edge).
EDGE_STALENESS: Final = 10
# A standby key is published this long before it signs.
PUBLISH_LEAD: Final = timedelta(seconds=JWKS_MAX_AGE + EDGE_STALENESS)

_SEAL_VERSION: Final = b"\x01"
_NONCE_BYTES: Final = 12
KEK_BYTES: Final = 32


class SealError(StorageError):
    """A sealed key did not open: wrong key-encryption key, or the blob was altered."""


@dataclass(frozen=True, slots=True)
class Sealer:
    """AES-256-GCM under the deployment's key-encryption key."""

    kek: bytes

    def __post_init__(self) -> None:
        if len(self.kek) != KEK_BYTES:
            raise ValueError(f"the key-encryption key must be {KEK_BYTES} bytes")

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _SEAL_VERSION + nonce + AESGCM(self.kek).encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        if sealed[:1] != _SEAL_VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise SealError("not a sealed key of a known format")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return AESGCM(self.kek).decrypt(nonce, body, context.encode())
        except InvalidTag as exc:
            raise SealError(
                "a sealed key did not open: the key-encryption key differs or it was altered"
            ) from exc


PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})


def import_jwk(jwk: Mapping[str, Any], *, public: bool = False) -> ECKey | RSAKey | OKPKey:
    """A JWK as a joserfc key, by its `kty`; `public` drops any private members first.
    `ValueError` for a key type AuthPI does not sign or verify with."""
    members = {k: v for k, v in jwk.items() if not (public and k in PRIVATE_MEMBERS)}
    kty = members.get("kty")
    if kty == "EC":
        return ECKey.import_key(members)
    if kty == "RSA":
        return RSAKey.import_key(members)
    if kty == "OKP":
        return OKPKey.import_key(members)
    raise ValueError(f"unsupported key type {kty!r}")


def generate_jwk(alg: str) -> ECKey | RSAKey | OKPKey:
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "RS256":
        return RSAKey.generate_key(2048)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519")
    raise ValueError(f"unsupported signing algorithm {alg!r}")


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    issuer_id: str
    alg: str
    public_jwk: Mapping[str, Any]
    sealed_key: bytes
    created_at: str
    activates_at: str
    retires_at: str | None
    expires_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> SigningKey:
        return cls(
            row["kid"],
            row["issuer_id"],
            row["alg"],
            orjson.loads(row["public_jwk"]),
            bytes(row["sealed_key"]),
            row["created_at"],
            row["activates_at"],
            row["retires_at"],
            row["expires_at"],
        )

    def state(self, now: str) -> str:
        """standby, active, retired (still published) or expired, at the instant `now`."""
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.retires_at is not None and self.retires_at <= now:
            return "retired"
        return "active" if self.activates_at <= now else "standby"


def seal_context(issuer_id: str, kid: str) -> str:
    return f"authpi signing key {issuer_id} {kid}"


class KeyStore:
    def __init__(self, database: Database, outbox: Outbox, clock: Clock, sealer: Sealer) -> None:
        self._database = database
        self._outbox = outbox
        self._clock = clock
        self._sealer = sealer

    async def published(self, issuer_id: str) -> list[SigningKey]:
        """Every key of the issuer that is in its JWKS now (standby, active or retired)."""
        now = rfc3339(self._clock.now())
        rows = await self._database.fetch_all(
            "SELECT * FROM signing_keys WHERE issuer_id = ? AND (expires_at IS NULL"
            " OR expires_at > ?) ORDER BY alg, activates_at",
            (issuer_id, now),
        )
        return [SigningKey.from_row(row) for row in rows]

    async def lacking(self, issuer_id: str, algs: tuple[str, ...]) -> tuple[str, ...]:
        """Those of `algs` for which the issuer has no key that signs now."""
        now = rfc3339(self._clock.now())
        rows = await self._database.fetch_all(
            "SELECT DISTINCT alg FROM signing_keys WHERE issuer_id = ? AND activates_at <= ?"
            " AND (retires_at IS NULL OR retires_at > ?)",
            (issuer_id, now, now),
        )
        present = {row["alg"] for row in rows}
        return tuple(alg for alg in dict.fromkeys(algs) if alg not in present)

    def prepare(self, issuer_id: str, alg: str, activates: datetime | None = None) -> SigningKey:
        """Generate and seal a key, outside any transaction (RSA generation takes a while)."""
        now = self._clock.now()
        jwk = generate_jwk(alg)
        kid = jwk.thumbprint()
        public = {**jwk.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
        private = orjson.dumps(jwk.as_dict(private=True))
        return SigningKey(
            kid,
            issuer_id,
            alg,
            public,
            self._sealer.seal(private, seal_context(issuer_id, kid)),
            rfc3339(now),
            rfc3339(activates or now),
            None,
            None,
        )

    async def add(
        self, tx: Transaction, keys: list[SigningKey], account_id: str, actor: str = SYSTEM_ACTOR
    ) -> None:
        """Store prepared keys that sign from their `activates_at`, each with its event."""
        for key in keys:
            await self._insert(tx, key)
            await self._outbox.record(
                tx,
                "signing_key.created",
                key.kid,
                {"kid": key.kid, "alg": key.alg, "activates_at": key.activates_at},
                actor=actor,
                account_id=account_id,
                issuer_id=key.issuer_id,
            )

    async def ensure(
        self, issuer_id: str, account_id: str, algs: tuple[str, ...], actor: str = SYSTEM_ACTOR
    ) -> list[SigningKey]:
        """Give the issuer a key that signs now for each of `algs` that lacks one."""
        missing = await self.lacking(issuer_id, algs)
        if not missing:
            return []
        keys = [self.prepare(issuer_id, alg) for alg in missing]
        async with self._database.transaction() as tx:
            now = rfc3339(self._clock.now())
            fresh = []
            for key in keys:
                row = await tx.fetch_one(
                    "SELECT kid FROM signing_keys WHERE issuer_id = ? AND alg = ?"
                    " AND activates_at <= ? AND (retires_at IS NULL OR retires_at > ?)",
                    (issuer_id, key.alg, now, now),
                )
                if row is None:  # no concurrent ensure got there first
                    fresh.append(key)
            await self.add(tx, fresh, account_id, actor)
        return fresh

    async def rotate(
        self,
        issuer_id: str,
        account_id: str,
        alg: str,
        *,
        max_token_lifetime: int,
        immediate: bool = False,
        actor: str = SYSTEM_ACTOR,
    ) -> tuple[SigningKey, list[SigningKey]]:
        """`rotate_in` in a transaction of its own."""
        key = self.prepare_successor(issuer_id, alg, immediate=immediate)
        async with self._database.transaction() as tx:
            return key, await self.rotate_in(
                tx,
                key,
                account_id,
                max_token_lifetime=max_token_lifetime,
                immediate=immediate,
                actor=actor,
            )

    def prepare_successor(self, issuer_id: str, alg: str, *, immediate: bool) -> SigningKey:
        now = self._clock.now()
        return self.prepare(issuer_id, alg, now if immediate else now + PUBLISH_LEAD)

    async def rotate_in(
        self,
        tx: Transaction,
        key: SigningKey,
        account_id: str,
        *,
        max_token_lifetime: int,
        immediate: bool,
        actor: str = SYSTEM_ACTOR,
    ) -> list[SigningKey]:
        """Store the prepared successor `key`; retire the keys it replaces when it activates.

        A planned rotation publishes the successor `PUBLISH_LEAD` ahead of its first
        signature. An immediate one (a key is suspected compromised) signs at once; tokens
        signed by the predecessors still verify until they expire, as with any retirement.
        Returns the keys it retires.
        """
        now = rfc3339(self._clock.now())
        issuer_id, alg = key.issuer_id, key.alg
        pending = await tx.fetch_one(
            "SELECT activates_at FROM signing_keys WHERE issuer_id = ? AND alg = ?"
            " AND activates_at > ?",
            (issuer_id, alg, now),
        )
        if pending is not None and not immediate:
            raise Conflict(
                f"a rotation of the {alg} key is already under way; the standby key"
                f" signs from {pending['activates_at']}"
            )
        replaced = [
            SigningKey.from_row(row)
            for row in await tx.fetch_all(
                "SELECT * FROM signing_keys WHERE issuer_id = ? AND alg = ?"
                " AND (retires_at IS NULL OR retires_at > ?)",
                (issuer_id, alg, key.activates_at),
            )
        ]
        await self._insert(tx, key)
        activates = datetime.fromisoformat(key.activates_at)
        expires = rfc3339(activates + timedelta(seconds=max_token_lifetime + JWKS_MAX_AGE))
        retired = []
        for old in replaced:
            never_signed = old.activates_at > now
            old_expires = now if never_signed else expires
            await tx.execute(
                "UPDATE signing_keys SET retires_at = ?, expires_at = ? WHERE kid = ?",
                (key.activates_at, old_expires, old.kid),
            )
            retired.append(
                SigningKey(
                    old.kid,
                    old.issuer_id,
                    old.alg,
                    old.public_jwk,
                    old.sealed_key,
                    old.created_at,
                    old.activates_at,
                    key.activates_at,
                    old_expires,
                )
            )
        await self._outbox.record(
            tx,
            "signing_key.rotated",
            key.kid,
            {
                "kid": key.kid,
                "alg": alg,
                "activates_at": key.activates_at,
                "retires": [old.kid for old in replaced],
                "retired_keys_expire_at": expires,
                "immediate": immediate,
            },
            actor=actor,
            account_id=account_id,
            issuer_id=issuer_id,
        )
        return retired

    async def _insert(self, tx: Transaction, key: SigningKey) -> None:
        await tx.execute(
            "INSERT INTO signing_keys (kid, issuer_id, alg, public_jwk, sealed_key, created_at,"
            " activates_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key.kid,
                key.issuer_id,
                key.alg,
                orjson.dumps(dict(key.public_jwk)).decode(),
                key.sealed_key,
                key.created_at,
                key.activates_at,
            ),
        )


LOCAL_KEK_FILE: Final = "key-encryption.key"


def local_key(data_dir: Path) -> bytes:
    """A single node's key-encryption key, generated into its data directory once.

    Losing this file makes the issuers' sealed signing keys unreadable; deployments with
    more than one node set AUTHPI_KEY_ENCRYPTION_KEY instead (their settings require it).
    """
    path = data_dir / LOCAL_KEK_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(KEK_BYTES))
        log.warning("generated a key-encryption key in %s; back it up with the data", path)
    key = path.read_bytes()
    if len(key) != KEK_BYTES:
        raise SealError(f"{path} must hold exactly {KEK_BYTES} bytes")
    return key
