"""CPU pinning where the OS offers it (Linux): the measured side on one core, the load on another.

On Linux `sched_setaffinity(0, ...)` pins the calling thread; threads and processes it starts
afterwards inherit the mask. So a shard opened inside `pinned()` keeps its aiosqlite threads
on that core, and a child started with `pin_child` runs there from its first instruction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

CAN_PIN = hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


@dataclass(frozen=True, slots=True)
class Placement:
    """Which core serves (the shard, the node) and which generates load."""

    server: frozenset[int]
    client: frozenset[int]

    @property
    def pinned(self) -> bool:
        return bool(self.server)

    def describe(self) -> str:
        if not self.pinned:
            return "not pinned (this OS has no sched_setaffinity)"
        shared = " (shared: only one core available)" if self.server == self.client else ""
        server, client = _cores(self.server), _cores(self.client)
        return f"server on core {server}, load generator on core {client}{shared}"


def choose() -> Placement:
    """The first available core for the server, the second (if any) for the load generator."""
    if not CAN_PIN:
        return Placement(frozenset(), frozenset())
    cores = sorted(os.sched_getaffinity(0))
    server = frozenset(cores[:1])
    client = frozenset(cores[1:2]) or server
    return Placement(server, client)


@contextmanager
def pinned(cores: frozenset[int]) -> Iterator[None]:
    """Run the block on `cores`; threads started inside stay there after it ends."""
    if not CAN_PIN or not cores:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pin_child(cores: frozenset[int]) -> Callable[[], None] | None:
    """A `preexec_fn` that pins a child process before it executes anything."""
    if not CAN_PIN or not cores:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, cores)

    return pin


def _cores(cores: frozenset[int]) -> str:
    return ",".join(str(core) for core in sorted(cores))
