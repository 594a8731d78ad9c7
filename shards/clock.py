"""The clock, passed in at the assembly point so tests can hold time still."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """`2026-11-29T06:33:47.123Z`: UTC, millisecond precision, sortable as text."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    # Field by field: twice as fast as strftime, and `%Y` does not pad years before 1000
    # on every platform.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )
