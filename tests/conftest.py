from __future__ import annotations

from datetime import UTC, datetime

import pytest


class FrozenClock:
    """A clock that moves only when the test says so."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 29, 12, 0, 0, 123000, tzinfo=UTC))
