"""Every node's read-only copy of the directory's non-personal part.

The primary reads its own directory file; every other node pulls `/_internal/v1/directory`
from the primary with `If-None-Match`, on a timer and when a request names an issuer or API
key it does not know. Pulls caused by misses are coalesced: at most one starts per
`MISS_REFRESH_INTERVAL`, and every miss waits for the first pull that starts after it, so a
flood of unknown ids costs a few pulls a second while a genuinely new id is always found.
On the primary a miss costs one read of the local directory's version, so it does not wait.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, Protocol

import httpx
import orjson

from shards.directory import Directory
from shards.records import EMPTY_SNAPSHOT, DirectorySnapshot

MISS_REFRESH_INTERVAL: Final = 0.25  # seconds between refreshes triggered by unknown ids
PULL_TIMEOUT: Final = 5.0


class ReplicaUnavailable(Exception):
    """The directory could not be read from the primary."""


class DirectorySource(Protocol):
    async def fetch(self, known_version: int) -> DirectorySnapshot | None:
        """A newer snapshot, or None when `known_version` is current."""
        ...


class LocalDirectory:
    """The primary's source: its own directory file."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def fetch(self, known_version: int) -> DirectorySnapshot | None:
        if await self._directory.version() == known_version:
            return None
        return await self._directory.snapshot()


class RemoteDirectory:
    """Any other node's source: the primary's internal endpoint, with conditional requests."""

    def __init__(self, client: httpx.AsyncClient, primary_url: str, secret: str) -> None:
        self._client = client
        self._url = f"{primary_url}/_internal/v1/directory"
        self._secret = secret

    async def fetch(self, known_version: int) -> DirectorySnapshot | None:
        headers = {"Authorization": f"Bearer {self._secret}"}
        if known_version:
            headers["If-None-Match"] = f'"{known_version}"'
        try:
            response = await self._client.get(self._url, headers=headers, timeout=PULL_TIMEOUT)
        except httpx.HTTPError as exc:
            raise ReplicaUnavailable(f"directory pull from {self._url} failed: {exc}") from exc
        if response.status_code == 304:
            return None
        if response.status_code != 200:
            raise ReplicaUnavailable(f"directory pull got HTTP {response.status_code}")
        return DirectorySnapshot.from_json(orjson.loads(response.content))


class DirectoryReplica:
    def __init__(self, source: DirectorySource) -> None:
        self._source = source
        # On the primary the directory is a local file: a miss reads its version at once.
        self._miss_interval = 0.0 if isinstance(source, LocalDirectory) else MISS_REFRESH_INTERVAL
        self._snapshot = EMPTY_SNAPSHOT
        self._lock = asyncio.Lock()
        self._miss_lock = asyncio.Lock()
        self._last_miss_pull = -MISS_REFRESH_INTERVAL
        self._listeners: list[ListenerType] = []

    @property
    def snapshot(self) -> DirectorySnapshot:
        return self._snapshot

    @property
    def loaded(self) -> bool:
        return self._snapshot.version > 0

    def on_change(self, listener: ListenerType) -> None:
        self._listeners.append(listener)

    async def refresh(self) -> bool:
        """Pull a newer snapshot if there is one; True when the copy changed."""
        seen = self._snapshot.version
        async with self._lock:
            if self._snapshot.version != seen:  # another caller refreshed while we waited
                return True
            fresh = await self._source.fetch(seen)
            if fresh is None:
                return False
            self._snapshot = fresh
        for listener in self._listeners:
            await listener(fresh)
        return True

    async def refresh_on_miss(self) -> bool:
        """Wait for a pull that started after this call; True if the copy may have changed."""
        asked_at = time.monotonic()
        async with self._miss_lock:
            if self._last_miss_pull >= asked_at:  # a pull started after we asked: it covers us
                return True
            wait = self._last_miss_pull + self._miss_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_miss_pull = time.monotonic()
            try:
                await self.refresh()
            except ReplicaUnavailable:
                return False
            return True


class ListenerType(Protocol):
    async def __call__(self, snapshot: DirectorySnapshot) -> None: ...
