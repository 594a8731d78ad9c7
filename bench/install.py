"""A one-region install on real files, prepared in-process: the directory, shards, an
account with an API key, issuers placed on chosen shards, and users loaded in bulk.

Everything goes through the project's own stores (`Directory`, `IssuerStore`,
`ResourceStore`), so the files are exactly what a node would have written, and a node
started on the directory serves them as they are.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from api.core.kinds import USER
from shards.clock import SystemClock
from shards.directory import Directory
from shards.ids import new_id
from shards.keys import Sealer, local_key
from shards.records import ShardRecord
from shards.shard import Shard

REGION: Final = "fra"
JURISDICTION: Final = "eu"
ACCOUNT: Final = "bench"
KEY_NAME: Final = "bench"
BULK_BATCH: Final = 10_000  # rows per transaction: large enough that commits do not dominate


@dataclass(frozen=True, slots=True)
class Install:
    data_dir: Path
    account_id: str
    token: str
    shards: Mapping[str, ShardRecord]  # by role
    issuers: Mapping[str, str]  # issuer id by role

    async def open(self, shard: str) -> Shard:
        sealer = Sealer(local_key(self.data_dir))
        return await Shard.open(self.data_dir, self.shards[shard], SystemClock(), sealer)

    def file(self, shard: str) -> Path:
        return self.data_dir / self.shards[shard].file


@dataclass(frozen=True, slots=True)
class BulkLoad:
    rows: int
    seconds: float
    file_bytes: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


async def prepare(data_dir: Path, placement: Mapping[str, str]) -> Install:
    """Register one shard per shard role, and one issuer per issuer role on its shard."""
    clock = SystemClock()
    directory = await Directory.open(data_dir, clock)
    try:
        records = {
            role: await directory.register_shard(REGION, actor="bench")
            for role in dict.fromkeys(placement.values())
        }
        account, _ = await directory.create_account(ACCOUNT, actor="bench")
        key = await directory.create_api_key(account.id, KEY_NAME, ["*"], actor="bench")
        issuers: dict[str, str] = {}
        for shard_role, record in records.items():
            shard = await Shard.open(data_dir, record, clock, Sealer(local_key(data_dir)))
            try:
                for issuer_role in (r for r, s in placement.items() if s == shard_role):
                    issuer_id = new_id("i")
                    await shard.issuers.create(
                        issuer_id, account.id, issuer_role, JURISDICTION, REGION, actor="bench"
                    )
                    await directory.register_issuer(
                        issuer_id, account.id, JURISDICTION, record, actor="bench"
                    )
                    issuers[issuer_role] = issuer_id
            finally:
                await shard.close()
    finally:
        await directory.close()
    return Install(data_dir, account.id, key.token, records, issuers)


async def bulk_load(shard: Shard, users: Mapping[str, int], *, batch: int = BULK_BATCH) -> BulkLoad:
    """Insert users of several issuers, interleaved in proportion as if created over time,
    `batch` rows per transaction. Rows only: no events, which lists never read."""
    start, rows = time.perf_counter(), 0
    order = interleave(users)
    numbers = dict.fromkeys(users, 0)
    done = False
    while not done:
        async with shard.database.transaction() as tx:
            for _ in range(batch):
                issuer_id = next(order, None)
                if issuer_id is None:
                    done = True
                    break
                number = numbers[issuer_id] = numbers[issuer_id] + 1
                data = {
                    **USER.defaults,
                    "email": f"user{number}.{issuer_id[-6:]}@bulk.example",
                    "name": f"User {number}",
                }
                await shard.resources.insert(tx, USER.name, USER.prefix, issuer_id, data)
                rows += 1
    seconds = time.perf_counter() - start
    return BulkLoad(rows, seconds, _size(shard.database.path))


def interleave(counts: Mapping[str, int]) -> Iterator[str]:
    """Keys in the order their rows fall due when each key's rows are spread evenly."""
    due = [((0.5) / count, key, 0) for key, count in counts.items() if count > 0]
    heapq.heapify(due)
    while due:
        _, key, index = heapq.heappop(due)
        yield key
        if index + 1 < counts[key]:
            heapq.heappush(due, ((index + 1.5) / counts[key], key, index + 1))


async def middle_id(shard: Shard, issuer_id: str, count: int) -> str:
    """The id of the issuer's middle user: the cursor of a page deep inside the list."""
    row = await shard.database.fetch_one(
        "SELECT id FROM resources WHERE issuer_id = ? AND kind = ? ORDER BY id LIMIT 1 OFFSET ?",
        (issuer_id, USER.name, count // 2),
    )
    if row is None:
        raise LookupError(f"issuer {issuer_id} has fewer than {count // 2} users")
    return str(row[0])


async def list_plan(shard: Shard, issuer_id: str, after: str) -> str:
    """SQLite's plan for the list query `ResourceStore.page` runs with a cursor."""
    rows = await shard.database.fetch_all(
        "EXPLAIN QUERY PLAN SELECT * FROM resources WHERE issuer_id = ? AND kind = ?"
        " AND id > ? ORDER BY id LIMIT ?",
        (issuer_id, USER.name, after, 21),
    )
    return "; ".join(str(row["detail"]) for row in rows)


async def created_users(shard: Shard, issuer_id: str) -> tuple[int, int]:
    """The issuer's user rows and `user.created` events: equal when every create kept both."""
    users = await shard.database.fetch_one(
        "SELECT COUNT(*) FROM resources WHERE issuer_id = ? AND kind = ?", (issuer_id, USER.name)
    )
    events = await shard.database.fetch_one(
        "SELECT COUNT(*) FROM events WHERE issuer_id = ? AND type = ?", (issuer_id, "user.created")
    )
    return (int(users[0]) if users else 0), (int(events[0]) if events else 0)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
