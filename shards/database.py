"""One SQLite file: one writer, concurrent readers, migrations on open.

Durability: WAL journal with `synchronous=NORMAL`. In WAL mode a commit appends the
transaction to the WAL file with a write() before the commit returns, so once a write is
acknowledged it lives in the operating system's page cache and survives a crash or SIGKILL
of the AuthPI process. NORMAL skips only the fsync at each commit; a power loss or kernel
crash can roll back the last transactions (never corrupt the file), which is the window
Litestream replication covers. FULL would fsync on every commit and cap one shard at the
disk's fsync rate for no gain against process crashes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import aiosqlite

from shards.errors import StorageError, map_sqlite_error
from shards.migrations import Migration, apply_migrations

BUSY_TIMEOUT_MS: Final = 5_000  # the ops CLI may hold the write lock briefly from another process
READERS: Final = 2  # two cores per machine: more reader threads only contend
SYNCHRONOUS: Final = "NORMAL"  # see the module docstring

Params = Sequence[Any]
Row = sqlite3.Row


def _pragmas(*, read_only: bool) -> list[str]:
    pragmas = [
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
        "PRAGMA foreign_keys = ON",
        f"PRAGMA synchronous = {SYNCHRONOUS}",
    ]
    return [*pragmas, "PRAGMA query_only = ON"] if read_only else pragmas


def migrate(path: Path, migrations: Sequence[Migration]) -> int:
    """Create the file if needed, switch it to WAL, and apply pending migrations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            for pragma in _pragmas(read_only=False):
                connection.execute(pragma)
            connection.execute("PRAGMA journal_mode = WAL")
            return apply_migrations(connection, str(path), migrations)
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise map_sqlite_error(exc) from exc


class Transaction:
    """The writer connection inside `BEGIN IMMEDIATE ... COMMIT`."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        try:
            cursor = await self._connection.execute(sql, params)
            return cursor.rowcount
        except sqlite3.Error as exc:
            raise map_sqlite_error(exc) from exc

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        # One hand-off to the connection's thread (execute, fetch and close in one call):
        # the hand-offs, not SQLite, are most of a small query's cost.
        try:
            return list(await self._connection.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise map_sqlite_error(exc) from exc


class Database:
    """A migrated SQLite file with one writer connection and a small pool of readers."""

    def __init__(
        self, path: Path, writer: aiosqlite.Connection, readers: list[aiosqlite.Connection]
    ) -> None:
        self.path = path
        self._writer = writer
        self._write_lock = asyncio.Lock()
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers = readers
        self.commits = 0  # advances after every committed write transaction
        self._on_commit: list[Callable[[], None]] = []
        for reader in readers:
            self._readers.put_nowait(reader)

    @classmethod
    async def open(
        cls, path: Path, migrations: Sequence[Migration], *, readers: int = READERS
    ) -> Database:
        await asyncio.to_thread(migrate, path, migrations)
        connections: list[aiosqlite.Connection] = []
        try:
            for index in range(readers + 1):
                connection = await _connect(path)
                connections.append(connection)
                connection.row_factory = sqlite3.Row
                for pragma in _pragmas(read_only=index > 0):
                    await connection.execute(pragma)
        except sqlite3.Error as exc:
            for connection in connections:
                await connection.close()
            raise map_sqlite_error(exc) from exc
        return cls(path, connections[0], connections[1:])

    async def close(self) -> None:
        for connection in (self._writer, *self._all_readers):
            await connection.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One write transaction at a time; rolled back if the block raises."""
        async with self._write_lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise map_sqlite_error(exc) from exc
            try:
                yield Transaction(self._writer)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            try:
                await self._writer.execute("COMMIT")
            except sqlite3.Error as exc:
                await self._writer.execute("ROLLBACK")
                raise map_sqlite_error(exc) from exc
            self.commits += 1
            for listener in self._on_commit:
                listener()

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` (synchronously, so keep it tiny) after every commit."""
        self._on_commit.append(listener)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        async with self._reader() as reader:
            return await reader.fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._reader() as reader:
            return await reader.fetch_all(sql, params)

    async def account_row(
        self, table: str, account_id: str, row_id: str, tx: Transaction | None = None
    ) -> Row | None:
        """One row of `table` by id, only if it belongs to the account: inside `tx` when
        given, else from a reader."""
        sql = f"SELECT * FROM {table} WHERE id = ? AND account_id = ?"
        params = (row_id, account_id)
        return await (tx.fetch_one(sql, params) if tx else self.fetch_one(sql, params))

    async def account_page(
        self, table: str, account_id: str, *, after: str | None, limit: int, status: str | None
    ) -> list[Row]:
        """A page of an account's rows of `table` in id (creation) order, after the id `after`
        and optionally of one status: the keyset page of every account-level list."""
        clauses, params = ["account_id = ?"], [account_id]
        if after is not None:
            clauses.append("id > ?")
            params.append(after)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        return await self.fetch_all(
            f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?",
            [*params, limit],
        )

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Transaction]:
        """A read transaction: every query in the block sees the same committed state."""
        async with self._reader() as reader:
            await reader.execute("BEGIN")
            try:
                yield reader
            finally:
                await reader.execute("COMMIT")

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[Transaction]:
        connection = await self._readers.get()
        try:
            yield Transaction(connection)
        finally:
            self._readers.put_nowait(connection)


async def _connect(path: Path) -> aiosqlite.Connection:
    pending = aiosqlite.connect(path, isolation_level=None)
    # Each connection runs a thread; a daemon thread cannot keep a crashed or interrupted
    # process from exiting when a database was never closed (SQLite's own durability does
    # not depend on the thread finishing: a commit is on disk before it returns).
    thread = getattr(pending, "_thread", None)
    if thread is not None:
        thread.daemon = True
    return await pending


__all__ = ["Database", "Row", "StorageError", "Transaction", "migrate"]
