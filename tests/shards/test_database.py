from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shards import schema
from shards.database import Database
from shards.errors import Conflict, MigrationFailed, SchemaTooNew
from shards.migrations import Migration
from shards.outbox import Outbox
from tests.conftest import FrozenClock


@pytest.fixture
async def shard_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A shard database, closed even when the test fails (open connections hold threads)."""
    database = await Database.open(tmp_path / "s.db", schema.SHARD)
    yield database
    await database.close()


INSERT_ISSUER = (
    "INSERT INTO issuers (id, account_id, name, jurisdiction, home_region, created_at,"
    " updated_at) VALUES ('i_1', 'acct_1', 'n', 'eu', 'fra', 't', 't')"
)


async def test_a_shard_opens_in_wal_mode_with_foreign_keys_and_its_migrations(
    tmp_path: Path,
) -> None:
    database = await Database.open(tmp_path / "s.db", schema.SHARD)
    await database.close()
    connection = sqlite3.connect(tmp_path / "s.db")
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("SELECT version, name FROM schema_migrations").fetchall() == [
        (1, "issuer configuration, outbox"),
        (2, "resources of the identity graph, idempotency keys"),
        (3, "issuer settings and status, signing keys, edge versions"),
        (4, "webhook delivery streams, redeliveries and records"),
    ]


async def test_reopening_applies_only_new_migrations(tmp_path: Path) -> None:
    first = Migration(1, "a", ("CREATE TABLE a (x INTEGER) STRICT",))
    second = Migration(2, "b", ("CREATE TABLE b (y INTEGER) STRICT",))
    await (await Database.open(tmp_path / "m.db", [first])).close()
    database = await Database.open(tmp_path / "m.db", [first, second])
    rows = await database.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
    await database.close()
    assert [row[0] for row in rows] == [1, 2]


async def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    first = Migration(1, "a", ("CREATE TABLE a (x INTEGER) STRICT",))
    broken = Migration(2, "b", ("CREATE TABLE b (y INTEGER) STRICT", "CREATE TABLE a (z)"))
    await (await Database.open(tmp_path / "m.db", [first])).close()
    with pytest.raises(MigrationFailed, match=r"migration 2 \(b\) failed: table a already"):
        await Database.open(tmp_path / "m.db", [first, broken])
    connection = sqlite3.connect(tmp_path / "m.db")
    assert connection.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (1,)
    assert connection.execute("SELECT name FROM sqlite_master WHERE name = 'b'").fetchall() == []


async def test_a_file_from_a_newer_authpi_is_refused(tmp_path: Path) -> None:
    first = Migration(1, "a", ("CREATE TABLE a (x INTEGER) STRICT",))
    second = Migration(2, "b", ("CREATE TABLE b (y INTEGER) STRICT",))
    await (await Database.open(tmp_path / "m.db", [first, second])).close()
    with pytest.raises(SchemaTooNew, match="schema version 2, this AuthPI knows up to 1"):
        await Database.open(tmp_path / "m.db", [first])


async def test_a_failed_transaction_leaves_neither_its_change_nor_its_event(
    shard_db: Database, clock: FrozenClock
) -> None:
    database = shard_db
    outbox = Outbox(database, clock)
    with pytest.raises(RuntimeError, match="boom"):
        async with database.transaction() as tx:
            await tx.execute(INSERT_ISSUER)
            await outbox.record(tx, "issuer.created", "i_1", {"id": "i_1"})
            raise RuntimeError("boom")
    assert await database.fetch_all("SELECT * FROM issuers") == []
    assert await outbox.list() == []


async def test_a_committed_transaction_keeps_its_change_and_its_event(
    shard_db: Database, clock: FrozenClock
) -> None:
    database = shard_db
    outbox = Outbox(database, clock)
    async with database.transaction() as tx:
        await tx.execute(INSERT_ISSUER)
        event = await outbox.record(
            tx, "issuer.created", "i_1", {"id": "i_1"}, actor="key_x", issuer_id="i_1"
        )
    assert event.id.startswith("evt_")
    assert event.time == "2026-11-29T12:00:00.123Z"
    assert await outbox.list() == [event]


async def test_a_constraint_violation_is_a_conflict_and_rolls_back(
    shard_db: Database, clock: FrozenClock
) -> None:
    database = shard_db
    outbox = Outbox(database, clock)
    async with database.transaction() as tx:
        await tx.execute(INSERT_ISSUER)
    with pytest.raises(Conflict, match="UNIQUE"):
        async with database.transaction() as tx:
            await outbox.record(tx, "issuer.created", "i_1", {})
            await tx.execute(INSERT_ISSUER)
    assert await outbox.list() == []


async def test_readers_see_only_committed_state(shard_db: Database) -> None:
    database = shard_db
    async with database.transaction() as tx:
        await tx.execute(INSERT_ISSUER)
        assert await database.fetch_all("SELECT id FROM issuers") == []
    assert [row[0] for row in await database.fetch_all("SELECT id FROM issuers")] == ["i_1"]
