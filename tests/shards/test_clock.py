from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shards.clock import rfc3339


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 29, 6, 33, 47, 123456, UTC), "2026-11-29T06:33:47.123Z"),
        (datetime(28, 10, 20, 12, 3, 37, 800000, UTC), "0028-10-20T12:03:37.800Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
        (
            datetime(2027, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
            "2026-12-31T23:30:00.000Z",
        ),
    ],
)
def test_rfc3339_is_utc_with_milliseconds_and_a_four_digit_year(
    moment: datetime, text: str
) -> None:
    assert rfc3339(moment) == text
