"""Issuer configuration, stored in the issuer's home shard."""

from __future__ import annotations

from dataclasses import dataclass

from shards.clock import Clock, rfc3339
from shards.database import Database, Row
from shards.errors import NotFound
from shards.outbox import SYSTEM_ACTOR, Outbox


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    id: str
    account_id: str
    name: str
    jurisdiction: str
    home_region: str
    created_at: str
    updated_at: str

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
        )


class IssuerStore:
    def __init__(self, database: Database, outbox: Outbox, clock: Clock) -> None:
        self._database = database
        self._outbox = outbox
        self._clock = clock

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
        issuer = IssuerConfig(issuer_id, account_id, name, jurisdiction, home_region, now, now)
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
        return issuer

    async def get(self, issuer_id: str) -> IssuerConfig:
        row = await self._database.fetch_one("SELECT * FROM issuers WHERE id = ?", (issuer_id,))
        if row is None:
            raise NotFound("issuer", issuer_id)
        return IssuerConfig.from_row(row)

    async def withdraw(self, issuer_id: str) -> None:
        """Undo a creation that was never acknowledged: its row and its event go together.

        Used only when the directory refused the placement, so nothing outside this shard
        ever saw the issuer.
        """
        async with self._database.transaction() as tx:
            await tx.execute("DELETE FROM events WHERE issuer_id = ?", (issuer_id,))
            await tx.execute("DELETE FROM issuers WHERE id = ?", (issuer_id,))
