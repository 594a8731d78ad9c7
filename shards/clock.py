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
    utc = moment.astimezone(UTC)
    # The year by hand: `%Y` does not pad years before 1000 on every platform.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
