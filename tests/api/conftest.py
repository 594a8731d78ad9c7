from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from runtime.app import create_app
from runtime.node import Node
from runtime.settings import Settings
from shards.directory import Directory
from shards.records import ShardRecord
from tests.conftest import FrozenClock


@dataclass
class Install:
    """A one-region install (fra) on real files, with an account and a shard."""

    client: httpx.AsyncClient
    data_dir: Path
    account_id: str
    token: str
    other_account_id: str
    other_token: str
    shard: ShardRecord
    node: Node

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def count(self, sql: str) -> int:
        """Read a count straight from the files, as an operator would."""
        total = 0
        for path in [self.data_dir / "directory.db", *self.data_dir.glob("shards/*.db")]:
            try:
                total += sqlite3.connect(path).execute(sql).fetchone()[0]
            except sqlite3.OperationalError:  # the table lives in the other kind of file
                continue
        return total


async def _prepare(data_dir: Path, clock: FrozenClock) -> tuple[str, str, str, str, ShardRecord]:
    directory = await Directory.open(data_dir, clock)
    try:
        shard = await directory.register_shard("fra")
        await directory.register_shard("ams")  # a shard whose node is elsewhere
        account, issued = await directory.create_account("Acme")
        other, other_issued = await directory.create_account("Globex")
        return account.id, issued.token, other.id, other_issued.token, shard
    finally:
        await directory.close()


@pytest.fixture
async def install(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Install]:
    account_id, token, other_id, other_token, shard = await _prepare(tmp_path, clock)
    settings = Settings.from_environ(
        {
            "FLY_REGION": "fra",
            "AUTHPI_DATA_DIR": str(tmp_path),
            "AUTHPI_PUBLIC_URL": "https://id.example.com",
        }
    )
    app: Starlette = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fra.test") as client:
            node = app.state.node
            yield Install(client, tmp_path, account_id, token, other_id, other_token, shard, node)
