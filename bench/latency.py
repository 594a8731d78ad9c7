"""Latency samples summarised by nearest-rank percentiles, in milliseconds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Percentiles:
    count: int
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> Percentiles:
        if not samples_ms:
            raise ValueError("no latency samples to summarise")
        ordered = sorted(samples_ms)
        return cls(
            len(ordered),
            nearest_rank(ordered, 50),
            nearest_rank(ordered, 95),
            nearest_rank(ordered, 99),
        )


def nearest_rank(ordered: Sequence[float], percent: float) -> float:
    """The smallest sample with at least `percent` of the samples at or below it."""
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]
