"""Seen-once sets for `jti`s of client assertions and DPoP proofs, held per node.

An entry lives until the JWT it came from expires, so the set stays as small as the traffic
of one validity window. Bounded: past `capacity`, the oldest-expiring entries go first.
Replays are caught on the node that saw the first use; client assertions and DPoP proofs are
short-lived, and a replay at another node needs the attacker to move regions within that
window (stated in the README's security notes).
"""

from __future__ import annotations

import heapq
from typing import Final

DEFAULT_CAPACITY: Final = 200_000


class SeenOnce:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._capacity = capacity

    def first_use(self, key: str, expires_at: float, now: float) -> bool:
        """Record `key` until `expires_at`; False if it was already recorded and still live."""
        self._purge(now)
        seen = self._expiry.get(key)
        if seen is not None and seen > now:
            return False
        while len(self._expiry) >= self._capacity and self._heap:
            _, oldest = heapq.heappop(self._heap)
            self._expiry.pop(oldest, None)
        self._expiry[key] = expires_at
        heapq.heappush(self._heap, (expires_at, key))
        return True

    def _purge(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            expires_at, key = heapq.heappop(heap)
            if self._expiry.get(key) == expires_at:
                del self._expiry[key]
