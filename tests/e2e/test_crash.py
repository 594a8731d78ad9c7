"""A node killed with SIGKILL in the middle of a stream of writes loses no acknowledged write."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import httpx

from runtime.dev import Mesh
from runtime.processes import free_port

WRITERS = 4
KILL_AFTER_ACKS = 60


async def _stream_of_creates(
    url: str, account_id: str, token: str, acked: list[str], enough: asyncio.Event
) -> None:
    async def writer(client: httpx.AsyncClient, number: int) -> None:
        sequence = 0
        while True:
            sequence += 1
            try:
                response = await client.post(
                    f"{url}/v1/accounts/{account_id}/issuers",
                    json={"name": f"crash {number}-{sequence}", "jurisdiction": "eu"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError:
                return  # the node is gone: this write was never acknowledged
            if response.status_code == 201:
                acked.append(response.json()["id"])
                if len(acked) >= KILL_AFTER_ACKS:
                    enough.set()

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(writer(client, n) for n in range(WRITERS)))


def test_sigkill_mid_stream_loses_no_acknowledged_write(tmp_path: Path) -> None:
    mesh = Mesh(regions=["fra"], data_root=tmp_path, port=free_port())
    bootstrap = mesh.bootstrap()
    mesh.start(os.environ)
    node = mesh.nodes["fra"]
    acked: list[str] = []

    async def run() -> None:
        enough = asyncio.Event()
        stream = asyncio.create_task(
            _stream_of_creates(node.url, bootstrap.account_id, bootstrap.key.token, acked, enough)
        )
        await enough.wait()
        node.kill()  # writers are mid-request: some writes are in flight, unacknowledged
        await stream

    try:
        asyncio.run(run())
    finally:
        mesh.stop()
    assert len(acked) >= KILL_AFTER_ACKS
    data = tmp_path / "fra"
    placed = {
        row[0] for row in sqlite3.connect(data / "directory.db").execute("SELECT id FROM issuers")
    }
    stored: set[str] = set()
    for shard in data.glob("shards/*.db"):
        stored |= {row[0] for row in sqlite3.connect(shard).execute("SELECT id FROM issuers")}
    assert set(acked) <= placed, f"{len(set(acked) - placed)} acknowledged writes lost"
    assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged writes lost"
