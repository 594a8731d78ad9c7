"""Seen-once sets for `jti`s of client assertions and DPoP proofs (RFC 7523 §3, RFC 9449
§11.1), held by every node and shared between them.

An entry lives until the JWT it came from expires, so the set stays as small as the traffic
of one validity window. Bounded: past `capacity`, the oldest-expiring entries go first.
A node checks a `jti` against its own set, in memory, so the token path never waits for
another region. Each first use is then told to every peer (`ReplayGossip`, batched every
`GOSSIP_SECONDS`), which records it as used: a replay at another node is refused once the
news has arrived, so the window left to a replay elsewhere is that delay (the batch interval
plus one trip between the two regions), not the JWT's lifetime.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Mapping
from typing import Final

import httpx
import orjson

from runtime.background import stop_task

log = logging.getLogger("authpi.replay")

DEFAULT_CAPACITY: Final = 200_000
GOSSIP_SECONDS: Final = 0.02  # the longest a first use waits before the peers are told
GOSSIP_TIMEOUT: Final = 5.0
GOSSIP_PATH: Final = "/_internal/v1/oauth/seen"


class SeenOnce:
    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, shared: bool = False) -> None:
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._capacity = capacity
        self._shared = shared
        self._fresh: list[tuple[str, float]] = []  # first uses not yet told to the peers

    def first_use(self, key: str, expires_at: float, now: float) -> bool:
        """Record `key` until `expires_at`; False if it was already recorded and still live."""
        self._purge(now)
        seen = self._expiry.get(key)
        if seen is not None and seen > now:
            return False
        self._record(key, expires_at)
        if self._shared and len(self._fresh) < self._capacity:
            self._fresh.append((key, expires_at))
        return True

    def learn(self, key: str, expires_at: float, now: float) -> None:
        """Record a first use another node saw."""
        self._purge(now)
        if expires_at > now and self._expiry.get(key, 0.0) < expires_at:
            self._record(key, expires_at)

    def fresh(self) -> list[tuple[str, float]]:
        """The first uses since the last call, to tell the peers."""
        taken, self._fresh = self._fresh, []
        return taken

    def _record(self, key: str, expires_at: float) -> None:
        while len(self._expiry) >= self._capacity and self._heap:
            _, oldest = heapq.heappop(self._heap)
            self._expiry.pop(oldest, None)
        self._expiry[key] = expires_at
        heapq.heappush(self._heap, (expires_at, key))

    def _purge(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            expires_at, key = heapq.heappop(heap)
            if self._expiry.get(key) == expires_at:
                del self._expiry[key]


class ReplayGossip:
    """Tells every peer, in batches, the first uses this node's seen-once sets recorded."""

    def __init__(
        self,
        sets: Mapping[str, SeenOnce],
        peers: Mapping[str, str],
        mesh_secret: str,
        http: httpx.AsyncClient,
    ) -> None:
        self._sets = sets
        self._peers = peers
        self._secret = mesh_secret
        self._http = http
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="replay gossip")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(GOSSIP_SECONDS)
            news = {name: seen.fresh() for name, seen in self._sets.items()}
            if any(news.values()):
                await self.tell(news)

    async def tell(self, news: Mapping[str, list[tuple[str, float]]]) -> None:
        body = orjson.dumps(news)
        headers = {"Authorization": f"Bearer {self._secret}", "Content-Type": "application/json"}

        async def one(region: str, url: str) -> None:
            try:
                response = await self._http.post(
                    f"{url}{GOSSIP_PATH}", content=body, headers=headers, timeout=GOSSIP_TIMEOUT
                )
                response.raise_for_status()
            except httpx.HTTPError as exc:  # a replay there is caught by its own set only
                log.warning("replay news to %s failed: %s", region, exc)

        await asyncio.gather(*(one(region, url) for region, url in self._peers.items()))
