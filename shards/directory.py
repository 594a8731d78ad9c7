"""The directory: accounts, account API keys, shards and issuer placement.

It lives in one SQLite file in the primary region. Every change writes its event to the
directory's outbox in the same transaction and bumps `directory_version` (by trigger), which
is what nodes compare when they refresh their replica.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

import orjson

from shards import schema
from shards.account_keys import AccountKeyStore
from shards.clock import Clock, rfc3339
from shards.database import Database, Row
from shards.deliveries import DeliveryStore
from shards.errors import Conflict, NotFound
from shards.idempotency import IdempotencyStore, IdempotentCreate, KeyTaken, StoredResponse
from shards.ids import new_id
from shards.issuers import IssuerConfig
from shards.outbox import SYSTEM_ACTOR, Outbox
from shards.records import (
    Account,
    ApiKey,
    DirectorySnapshot,
    IssuedApiKey,
    Placement,
    ShardRecord,
)
from shards.webhooks import Webhook, WebhookStore

DIRECTORY_FILE: Final = "directory.db"
ALL_SCOPES: Final = ("*",)


class Directory:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self._clock = clock
        self._outbox = Outbox(database, clock)
        self.keys = AccountKeyStore(database, self._outbox, clock)
        self.idempotency = IdempotencyStore(clock)
        self.webhooks = WebhookStore(database, self._outbox, clock)
        self.deliveries = DeliveryStore(database, clock)  # of account-level events

    @classmethod
    async def open(cls, data_dir: Path, clock: Clock) -> Directory:
        return cls(await Database.open(data_dir / DIRECTORY_FILE, schema.DIRECTORY), clock)

    async def close(self) -> None:
        await self.database.close()

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    def _now(self) -> str:
        return rfc3339(self._clock.now())

    # accounts and their keys

    async def create_account(
        self, name: str, *, actor: str = SYSTEM_ACTOR
    ) -> tuple[Account, IssuedApiKey]:
        """A new account and its first API key, which holds every scope."""
        account = Account(new_id("acct"), name, "active", self._now())
        async with self.database.transaction() as tx:
            await tx.execute(
                "INSERT INTO accounts (id, name, status, created_at) VALUES (?, ?, ?, ?)",
                (account.id, account.name, account.status, account.created_at),
            )
            await self._outbox.record(
                tx,
                "account.created",
                account.id,
                {"id": account.id, "name": account.name},
                actor=actor,
                account_id=account.id,
            )
            _, issued = await self.keys.insert(tx, account.id, "first key", ALL_SCOPES, actor=actor)
        return account, issued

    async def create_api_key(
        self,
        account_id: str,
        name: str,
        scopes: Iterable[str],
        *,
        ip_allowlist: Iterable[str] = (),
        expires_at: str | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> IssuedApiKey:
        async with self.database.transaction() as tx:
            _, issued = await self.keys.insert(
                tx,
                account_id,
                name,
                scopes,
                ip_allowlist=ip_allowlist,
                expires_at=expires_at,
                actor=actor,
            )
        return issued

    async def revoke_api_keys_named(
        self, account_id: str, name: str, *, actor: str = SYSTEM_ACTOR
    ) -> int:
        """Revoke every active key of an account with this name; return how many.

        An operator's tool: it may revoke the account's last managing key on purpose.
        """
        async with self.database.transaction() as tx:
            rows = await tx.fetch_all(
                "SELECT id FROM api_keys WHERE account_id = ? AND name = ? AND status = 'active'",
                (account_id, name),
            )
            now = self._now()
            for row in rows:
                await tx.execute(
                    "UPDATE api_keys SET status = 'revoked', version = version + 1,"
                    " updated_at = ? WHERE id = ?",
                    (now, row[0]),
                )
                await self._outbox.record(
                    tx,
                    "api_key.revoked",
                    row[0],
                    {"id": row[0], "account_id": account_id},
                    actor=actor,
                    account_id=account_id,
                )
            return len(rows)

    async def accounts(self) -> list[Account]:
        rows = await self.database.fetch_all("SELECT * FROM accounts ORDER BY id")
        return [Account.from_row(row) for row in rows]

    async def account(self, account_id: str) -> Account:
        row = await self.database.fetch_one("SELECT * FROM accounts WHERE id = ?", (account_id,))
        if row is None:
            raise NotFound("account", account_id)
        return Account.from_row(row)

    # shards

    async def register_shard(self, region: str, *, actor: str = SYSTEM_ACTOR) -> ShardRecord:
        """Record a new shard in a region; the region's node creates the file when it sees it."""
        shard_id = new_id("shd")
        record = ShardRecord(shard_id, region, f"shards/{shard_id}.db", "active", self._now())
        async with self.database.transaction() as tx:
            await tx.execute(
                "INSERT INTO shards (id, region, file, status, created_at) VALUES (?, ?, ?, ?, ?)",
                (record.id, record.region, record.file, record.status, record.created_at),
            )
            await self._outbox.record(
                tx,
                "shard.created",
                record.id,
                {"id": record.id, "region": region, "file": record.file},
                actor=actor,
            )
        return record

    async def shards(self, region: str | None = None) -> list[ShardRecord]:
        if region is None:
            rows = await self.database.fetch_all("SELECT * FROM shards ORDER BY region, id")
        else:
            rows = await self.database.fetch_all(
                "SELECT * FROM shards WHERE region = ? ORDER BY id", (region,)
            )
        return [ShardRecord.from_row(row) for row in rows]

    async def shard(self, shard_id: str) -> ShardRecord:
        row = await self.database.fetch_one("SELECT * FROM shards WHERE id = ?", (shard_id,))
        if row is None:
            raise NotFound("shard", shard_id)
        return ShardRecord.from_row(row)

    # issuer placement

    async def register_issuer(
        self,
        issuer_id: str,
        account_id: str,
        jurisdiction: str,
        shard: ShardRecord,
        *,
        name: str = "",
        created_at: str | None = None,
        actor: str = SYSTEM_ACTOR,
        idempotent: IdempotentCreate | None = None,
    ) -> Placement:
        """Record where a new issuer lives (created when its shard says); the caller has
        checked the jurisdiction. With `idempotent`, the response to replay is stored in the
        same transaction, and `KeyTaken` says another create with that key came first."""
        placement = Placement(
            issuer_id,
            account_id,
            jurisdiction,
            shard.region,
            shard.id,
            1,
            "active",
            created_at or self._now(),
        )
        async with self.database.transaction() as tx:
            if await tx.fetch_one("SELECT 1 FROM accounts WHERE id = ?", (account_id,)) is None:
                raise NotFound("account", account_id)
            if idempotent is not None:
                stored = await self.idempotency.find(tx, idempotent.scope, idempotent.key)
                if stored is not None:
                    raise KeyTaken(stored)
                await self.idempotency.store(
                    tx, idempotent.scope, idempotent.key, idempotent.response
                )
            await tx.execute(
                "INSERT INTO issuers (id, account_id, name, jurisdiction, home_region, shard_id,"
                " epoch, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    placement.issuer_id,
                    account_id,
                    name,
                    jurisdiction,
                    placement.home_region,
                    placement.shard_id,
                    placement.epoch,
                    placement.status,
                    placement.created_at,
                    placement.created_at,
                ),
            )
            await self._outbox.record(
                tx,
                "issuer.placed",
                issuer_id,
                _placement_data(placement),
                actor=actor,
                account_id=account_id,
                issuer_id=issuer_id,
            )
        return placement

    async def stored_response(self, scope: str, key: str) -> StoredResponse | None:
        async with self.database.reading() as tx:
            return await self.idempotency.find(tx, scope, key)

    async def place_issuer(
        self, issuer_id: str, shard: ShardRecord, *, actor: str = SYSTEM_ACTOR
    ) -> Placement:
        """Point an issuer at another shard, advancing its epoch to fence the old home."""
        async with self.database.transaction() as tx:
            row = await tx.fetch_one("SELECT * FROM issuers WHERE id = ?", (issuer_id,))
            if row is None:
                raise NotFound("issuer", issuer_id)
            current = Placement.from_row(row)
            if current.shard_id == shard.id:
                raise Conflict(f"issuer {issuer_id} is already on shard {shard.id}")
            await tx.execute(
                "UPDATE issuers SET shard_id = ?, home_region = ?, epoch = epoch + 1 WHERE id = ?",
                (shard.id, shard.region, issuer_id),
            )
            moved = await tx.fetch_one("SELECT * FROM issuers WHERE id = ?", (issuer_id,))
            assert moved is not None  # updated in this transaction
            placement = Placement.from_row(moved)
            await self._outbox.record(
                tx,
                "issuer.placed",
                issuer_id,
                _placement_data(placement),
                actor=actor,
                account_id=placement.account_id,
                issuer_id=issuer_id,
            )
        return placement

    async def list_issuer(self, issuer: IssuerConfig) -> bool:
        """Mirror what the Core API lists of an issuer (name, status, settings, version) from
        its home shard; an older version than the one mirrored changes nothing. The status
        is part of the placement every node replicates, so a disabled issuer stops resolving
        for edge work. False when the directory has no such issuer."""
        async with self.database.transaction() as tx:
            if await tx.fetch_one("SELECT 1 FROM issuers WHERE id = ?", (issuer.id,)) is None:
                return False
            await tx.execute(
                "UPDATE issuers SET name = ?, status = ?, settings = ?, version = ?,"
                " updated_at = ? WHERE id = ? AND version <= ?",
                (
                    issuer.name,
                    issuer.status,
                    orjson.dumps(dict(issuer.stored_settings)).decode(),
                    issuer.version,
                    issuer.updated_at,
                    issuer.id,
                    issuer.version,
                ),
            )
        return True

    async def remove_issuer(self, issuer_id: str, *, actor: str = SYSTEM_ACTOR) -> Placement:
        """Take an issuer out of placement, so it resolves nowhere; `issuer.deleted` records it
        here, since the issuer's own shard keeps nothing of it."""
        async with self.database.transaction() as tx:
            row = await tx.fetch_one("SELECT * FROM issuers WHERE id = ?", (issuer_id,))
            if row is None:
                raise NotFound("issuer", issuer_id)
            placement = Placement.from_row(row)
            await tx.execute("DELETE FROM issuers WHERE id = ?", (issuer_id,))
            await self._outbox.record(
                tx,
                "issuer.deleted",
                issuer_id,
                {**_placement_data(placement), "name": row["name"]},
                actor=actor,
                account_id=placement.account_id,
                issuer_id=issuer_id,
            )
        return placement

    async def issuer_page(
        self, account_id: str, *, after: str | None, limit: int, status: str | None = None
    ) -> list[IssuerConfig]:
        """An account's issuers as the directory lists them, in id (creation) order."""
        rows = await self.database.account_page(
            "issuers", account_id, after=after, limit=limit, status=status
        )
        return [IssuerConfig.from_row(row) for row in rows]

    async def placements(self, account_id: str | None = None) -> list[Placement]:
        if account_id is None:
            rows = await self.database.fetch_all("SELECT * FROM issuers ORDER BY id")
        else:
            rows = await self.database.fetch_all(
                "SELECT * FROM issuers WHERE account_id = ? ORDER BY id", (account_id,)
            )
        return [Placement.from_row(row) for row in rows]

    async def placement(self, issuer_id: str) -> Placement:
        row = await self.database.fetch_one("SELECT * FROM issuers WHERE id = ?", (issuer_id,))
        if row is None:
            raise NotFound("issuer", issuer_id)
        return Placement.from_row(row)

    # replication

    async def version(self) -> int:
        row = await self.database.fetch_one("SELECT version FROM directory_version")
        assert row is not None  # inserted by the first migration
        return int(row[0])

    async def snapshot(self) -> DirectorySnapshot:
        """The non-personal part, read in one transaction so it is consistent."""
        async with self.database.reading() as tx:
            version = await tx.fetch_one("SELECT version FROM directory_version")
            accounts = await tx.fetch_all("SELECT id, status FROM accounts")
            keys = await tx.fetch_all("SELECT * FROM api_keys")
            shards = await tx.fetch_all("SELECT * FROM shards")
            issuers = await tx.fetch_all("SELECT * FROM issuers")
            webhooks = await tx.fetch_all("SELECT * FROM webhooks")
        assert version is not None
        return DirectorySnapshot(
            version=int(version[0]),
            accounts={row["id"]: row["status"] for row in accounts},
            api_keys={row["id"]: _api_key(row) for row in keys},
            shards={row["id"]: ShardRecord.from_row(row) for row in shards},
            issuers={row["id"]: Placement.from_row(row) for row in issuers},
            webhooks={row["id"]: Webhook.from_row(row) for row in webhooks},
        )


def _api_key(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        digest=row["digest"],
        scopes=tuple(orjson.loads(row["scopes"])),
        ip_allowlist=tuple(orjson.loads(row["ip_allowlist"])),
        expires_at=row["expires_at"],
        status=row["status"],
        created_at=row["created_at"],
    )


def _placement_data(placement: Placement) -> dict[str, str | int]:
    return {
        "id": placement.issuer_id,
        "jurisdiction": placement.jurisdiction,
        "home_region": placement.home_region,
        "shard_id": placement.shard_id,
        "epoch": placement.epoch,
    }
