"""Issuer configuration, stored in the issuer's home shard."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

import orjson

from shards.clock import Clock, rfc3339
from shards.database import Database, Row, Transaction
from shards.errors import NotFound
from shards.keys import KeyStore
from shards.outbox import SYSTEM_ACTOR, Outbox
from shards.resources import VersionMismatch


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    id: str
    account_id: str
    name: str
    jurisdiction: str
    home_region: str
    created_at: str
    updated_at: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    status: str = "active"
    version: int = 1

    @classmethod
    def from_row(cls, row: Row) -> IssuerConfig:
        return cls(
            row["id"],
            row["account_id"],
            row["name"],
            row["jurisdiction"],
            row["home_region"],
            row["created_at"],
            row["updated_at"],
            {**DEFAULT_SETTINGS, **orjson.loads(row["settings"])},
            row["status"],
            row["version"],
        )

    def setting(self, name: str) -> Any:
        return self.settings.get(name, DEFAULT_SETTINGS[name])

    @property
    def stored_settings(self) -> dict[str, Any]:
        """The settings that differ from the defaults: what is stored."""
        return {k: v for k, v in self.settings.items() if DEFAULT_SETTINGS.get(k, v) != v}


# What an issuer starts with; the stored `settings` document holds only what was changed.
DEFAULT_SETTINGS: Final[Mapping[str, Any]] = {
    "access_token_lifetime": 3600,  # seconds; a client may ask for less, never more
    "id_token_lifetime": 3600,
    "refresh_token_lifetime": 30 * 86_400,
    "agent_token_lifetime_max": 900,  # caps every agent's own token_lifetime
    "access_token_signing_alg": "ES256",
    "id_token_signing_alg": "RS256",  # OpenID Connect Core 1.0 §15.1: RS256 must be supported
    "default_audience": None,  # `aud` of tokens requested without `resource`; the issuer URL
}
SIGNING_ALGS: Final = ("ES256", "RS256", "EdDSA")
_ISSUER_TABLES: Final = (
    ("resources", "issuer_id"),
    ("signing_keys", "issuer_id"),
    ("revoked_tokens", "issuer_id"),
    ("events", "issuer_id"),
    ("issuers", "id"),
)


class IssuerStore:
    def __init__(self, database: Database, outbox: Outbox, clock: Clock, keys: KeyStore) -> None:
        self._database = database
        self._outbox = outbox
        self._clock = clock
        self._keys = keys

    async def create(
        self,
        issuer_id: str,
        account_id: str,
        name: str,
        jurisdiction: str,
        home_region: str,
        *,
        actor: str = SYSTEM_ACTOR,
    ) -> IssuerConfig:
        now = rfc3339(self._clock.now())
        issuer = IssuerConfig(
            issuer_id, account_id, name, jurisdiction, home_region, now, now, DEFAULT_SETTINGS
        )
        keys = [
            self._keys.prepare(issuer_id, alg)
            for alg in dict.fromkeys(
                (
                    DEFAULT_SETTINGS["access_token_signing_alg"],
                    DEFAULT_SETTINGS["id_token_signing_alg"],
                )
            )
        ]
        async with self._database.transaction() as tx:
            await tx.execute(
                "INSERT INTO issuers (id, account_id, name, jurisdiction, home_region,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (issuer_id, account_id, name, jurisdiction, home_region, now, now),
            )
            await self._outbox.record(
                tx,
                "issuer.created",
                issuer_id,
                {
                    "id": issuer_id,
                    "name": name,
                    "jurisdiction": jurisdiction,
                    "home_region": home_region,
                },
                actor=actor,
                account_id=account_id,
                issuer_id=issuer_id,
            )
            await self._keys.add(tx, keys, account_id, actor)
        return issuer

    async def get(self, issuer_id: str, tx: Transaction | None = None) -> IssuerConfig:
        sql, params = "SELECT * FROM issuers WHERE id = ?", (issuer_id,)
        row = await (tx.fetch_one(sql, params) if tx else self._database.fetch_one(sql, params))
        if row is None:
            raise NotFound("issuer", issuer_id)
        return IssuerConfig.from_row(row)

    async def update(
        self,
        tx: Transaction,
        issuer: IssuerConfig,
        *,
        name: str,
        status: str,
        settings: Mapping[str, Any],
        expected_version: int | None,
        actor: str,
    ) -> IssuerConfig:
        """Change an issuer's name, status and settings with `issuer.updated` (and
        `issuer.disabled` or `issuer.enabled`); nothing changes, nothing is written."""
        if expected_version is not None and expected_version != issuer.version:
            raise VersionMismatch(issuer.id, expected_version, issuer.version)
        full = {**DEFAULT_SETTINGS, **settings}
        changed = [
            field
            for field, old, new in (("name", issuer.name, name), ("status", issuer.status, status))
            if old != new
        ]
        changed += [f"settings.{k}" for k in DEFAULT_SETTINGS if issuer.settings[k] != full[k]]
        if not changed:
            return issuer
        updated = replace(
            issuer,
            name=name,
            status=status,
            settings=full,
            updated_at=rfc3339(self._clock.now()),
            version=issuer.version + 1,
        )
        written = await tx.execute(
            "UPDATE issuers SET name = ?, status = ?, settings = ?, updated_at = ?,"
            " version = version + 1 WHERE id = ? AND version = ?",
            (
                name,
                status,
                orjson.dumps(updated.stored_settings).decode(),
                updated.updated_at,
                issuer.id,
                issuer.version,
            ),
        )
        if written != 1:
            current = await self.get(issuer.id, tx)
            raise VersionMismatch(issuer.id, issuer.version, current.version)
        data = {"id": issuer.id, "name": name, "status": status, "settings": full}
        record = self._outbox.record
        ids = {"actor": actor, "account_id": issuer.account_id, "issuer_id": issuer.id}
        await record(tx, "issuer.updated", issuer.id, {**data, "changed": changed}, **ids)
        if "status" in changed:
            type = "issuer.disabled" if status == "disabled" else "issuer.enabled"
            await record(tx, type, issuer.id, data, **ids)
        return updated

    async def delete(self, tx: Transaction, issuer_id: str) -> None:
        """Remove everything this shard holds of an issuer: its configuration, keys, graph,
        revoked tokens, events and stored idempotent responses."""
        for table, column in _ISSUER_TABLES:
            await tx.execute(f"DELETE FROM {table} WHERE {column} = ?", (issuer_id,))
        await tx.execute(
            "DELETE FROM idempotency_keys WHERE scope LIKE ? ESCAPE '!'",
            (f"%:{issuer_id.replace('_', '!_')}",),
        )
        # Last: the deletions above moved the issuer's edge version by trigger.
        await tx.execute("DELETE FROM edge_versions WHERE issuer_id = ?", (issuer_id,))

    async def withdraw(self, issuer_id: str) -> None:
        """Undo a creation that was never acknowledged: its row and its event go together.

        Used only when the directory refused the placement, so nothing outside this shard
        ever saw the issuer.
        """
        async with self._database.transaction() as tx:
            await tx.execute("DELETE FROM events WHERE issuer_id = ?", (issuer_id,))
            await tx.execute("DELETE FROM signing_keys WHERE issuer_id = ?", (issuer_id,))
            await tx.execute("DELETE FROM issuers WHERE id = ?", (issuer_id,))
