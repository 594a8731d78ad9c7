from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shards.directory import Directory
from shards.errors import Conflict, NotFound
from shards.records import DirectorySnapshot
from shards.secrets import matches
from tests.conftest import FrozenClock


@pytest.fixture
async def directory(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Directory]:
    directory = await Directory.open(tmp_path, clock)
    yield directory
    await directory.close()


async def test_an_account_comes_with_a_first_key_whose_secret_is_stored_as_a_digest(
    directory: Directory, tmp_path: Path
) -> None:
    account, issued = await directory.create_account("Acme")
    assert issued.token == f"{issued.key.id}.{issued.secret}"
    assert issued.key.account_id == account.id
    assert matches(issued.secret, issued.key.digest)
    assert not matches(issued.secret + "x", issued.key.digest)
    raw = (tmp_path / "directory.db").read_bytes() + (tmp_path / "directory.db-wal").read_bytes()
    assert issued.secret.encode() not in raw


async def test_every_change_records_its_event(directory: Directory) -> None:
    account, issued = await directory.create_account("Acme")
    shard = await directory.register_shard("fra")
    await directory.register_issuer("i_1", account.id, "eu", shard)
    events = [(e.type, e.subject) for e in await directory.outbox.list()]
    assert events == [
        ("account.created", account.id),
        ("api_key.created", issued.key.id),
        ("shard.created", shard.id),
        ("issuer.placed", "i_1"),
    ]


async def test_the_version_moves_with_every_replicated_change(directory: Directory) -> None:
    before = await directory.version()
    await directory.create_account("Acme")
    after_account = await directory.version()
    await directory.register_shard("fra")
    assert before < after_account < await directory.version()


async def test_the_snapshot_holds_placement_and_key_digests_but_no_account_names(
    directory: Directory,
) -> None:
    account, issued = await directory.create_account("Acme Secret Name")
    shard = await directory.register_shard("fra")
    await directory.register_issuer("i_1", account.id, "eu", shard)
    snapshot = await directory.snapshot()
    assert snapshot.accounts == {account.id: "active"}
    assert snapshot.issuers["i_1"].home_region == "fra"
    assert snapshot.api_keys[issued.key.id].digest == issued.key.digest
    assert "Acme Secret Name" not in str(snapshot.to_json())
    assert DirectorySnapshot.from_json(snapshot.to_json()) == snapshot


async def test_placing_an_issuer_advances_its_epoch(directory: Directory) -> None:
    account, _ = await directory.create_account("Acme")
    fra = await directory.register_shard("fra")
    ams = await directory.register_shard("ams")
    await directory.register_issuer("i_1", account.id, "eu", fra)
    placed = await directory.place_issuer("i_1", ams)
    assert (placed.shard_id, placed.home_region, placed.epoch) == (ams.id, "ams", 2)
    with pytest.raises(Conflict, match="already on shard"):
        await directory.place_issuer("i_1", ams)


async def test_an_issuer_of_an_unknown_account_is_refused_and_nothing_is_written(
    directory: Directory, tmp_path: Path
) -> None:
    shard = await directory.register_shard("fra")
    with pytest.raises(NotFound, match="account 'acct_nope' not found"):
        await directory.register_issuer("i_1", "acct_nope", "eu", shard)
    connection = sqlite3.connect(tmp_path / "directory.db")
    assert connection.execute("SELECT COUNT(*) FROM issuers").fetchone() == (0,)
    assert connection.execute(
        "SELECT COUNT(*) FROM events WHERE type = 'issuer.placed'"
    ).fetchone() == (0,)


async def test_revoking_keys_by_name(directory: Directory) -> None:
    account, _ = await directory.create_account("Acme")
    await directory.create_api_key(account.id, "ci", ["issuers:read"])
    await directory.create_api_key(account.id, "ci", ["issuers:read"])
    assert await directory.revoke_api_keys_named(account.id, "ci") == 2
    statuses = {key.status for key in (await directory.snapshot()).api_keys.values()}
    assert statuses == {"active", "revoked"}
