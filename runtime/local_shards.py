"""The shards this node owns: those the directory places in its region."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shards.clock import Clock
from shards.errors import NotFound
from shards.keys import Sealer
from shards.records import DirectorySnapshot
from shards.shard import Shard


class LocalShards:
    def __init__(self, data_dir: Path, region: str, clock: Clock, sealer: Sealer) -> None:
        self._data_dir = data_dir
        self._sealer = sealer
        self._region = region
        self._clock = clock
        self._open: dict[str, Shard] = {}
        self._lock = asyncio.Lock()

    async def sync(self, snapshot: DirectorySnapshot) -> None:
        """Open (creating on first sight) every shard of this region the directory lists."""
        async with self._lock:
            for record in snapshot.shards.values():
                if record.region == self._region and record.id not in self._open:
                    self._open[record.id] = await Shard.open(
                        self._data_dir, record, self._clock, self._sealer
                    )

    def get(self, shard_id: str) -> Shard:
        try:
            return self._open[shard_id]
        except KeyError:
            raise NotFound("shard", shard_id) from None

    def all(self) -> list[Shard]:
        return list(self._open.values())

    async def close(self) -> None:
        for shard in self._open.values():
            await shard.close()
        self._open.clear()
