"""A shard: one SQLite file in one region holding the data of many issuers."""

from __future__ import annotations

from pathlib import Path

from shards import schema
from shards.clock import Clock
from shards.database import Database
from shards.deliveries import DeliveryStore
from shards.edge import EdgeStore
from shards.idempotency import IdempotencyStore
from shards.issuers import IssuerStore
from shards.keys import KeyStore, Sealer
from shards.outbox import Outbox
from shards.records import ShardRecord
from shards.resources import ResourceStore


class Shard:
    def __init__(
        self, record: ShardRecord, database: Database, clock: Clock, sealer: Sealer
    ) -> None:
        self.record = record
        self.database = database
        self.outbox = Outbox(database, clock)
        self.keys = KeyStore(database, self.outbox, clock, sealer)
        self.issuers = IssuerStore(database, self.outbox, clock, self.keys)
        self.edge = EdgeStore(database, self.outbox, clock, self.keys)
        self.resources = ResourceStore(database, clock)
        self.idempotency = IdempotencyStore(clock)
        self.deliveries = DeliveryStore(database, clock)

    @property
    def id(self) -> str:
        return self.record.id

    @classmethod
    async def open(cls, data_dir: Path, record: ShardRecord, clock: Clock, sealer: Sealer) -> Shard:
        """Open (creating and migrating if needed) the shard's file under `data_dir`."""
        database = await Database.open(data_dir / record.file, schema.SHARD)
        return cls(record, database, clock, sealer)

    async def close(self) -> None:
        await self.database.close()
