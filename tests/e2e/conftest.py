from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.dev import Bootstrap, Mesh
from runtime.processes import free_port
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
