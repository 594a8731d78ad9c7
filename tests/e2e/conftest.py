from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from runtime.dev import NODE_TARGET, Bootstrap, Mesh
from runtime.processes import GranianProcess, free_port
from shards.clock import SystemClock
from shards.directory import Directory


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mesh, Bootstrap]]:
    """`authpi dev`'s mesh with three regions: fra (primary), iad and jnb."""
    mesh = Mesh(
        regions=["fra", "iad", "jnb"],
        data_root=tmp_path_factory.mktemp("mesh"),
        port=free_port(),
        refresh_seconds=0.5,
        key_usage_flush_seconds=0.5,
    )
    bootstrap = mesh.bootstrap()
    mesh.start(os.environ)
    try:
        yield mesh, bootstrap
    finally:
        mesh.stop()


def files_containing(root: Path, needle: bytes) -> list[str]:
    """Every file under `root` whose raw bytes contain `needle` (databases, WALs, anything)."""
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    )


def one_region_account(data_dir: Path, name: str) -> tuple[str, str]:
    """A directory in `data_dir` with one shard in fra and one account: its id and API key."""

    async def prepare() -> tuple[str, str]:
        directory = await Directory.open(data_dir, SystemClock())
        await directory.register_shard("fra")
        account, key = await directory.create_account(name)
        await directory.close()
        return account.id, key.token

    return asyncio.run(prepare())


@contextmanager
def one_region_node(
    data_dir: Path, name: str, **env: str
) -> Iterator[tuple[GranianProcess, str, str, str]]:
    """A running node in fra on a new install in `data_dir`, with one account and one EU
    issuer named `name`: the process, the account id, the issuer id and the API key."""
    account_id, token = one_region_account(data_dir, name)
    process = GranianProcess(
        "node", NODE_TARGET, {"FLY_REGION": "fra", "AUTHPI_DATA_DIR": str(data_dir), **env}
    )
    process.start(os.environ)
    try:
        process.wait_ready()
        response = httpx.post(
            f"{process.url}/v1/accounts/{account_id}/issuers",
            json={"name": name, "jurisdiction": "eu"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.text
        yield process, account_id, response.json()["id"], token
    finally:
        process.stop()
