"""When to try a failed delivery again, and when to give up: tenacity's strategies, applied
to a persisted attempt count and the (injectable) clock instead of a sleeping loop.

The wait after the n-th failure is "equal jitter": half fixed, half random, so receivers
coming back after an outage are not hit by every sender at the same instant:
`E(n) + uniform(0, E(n))` with `E(n) = 5 s * 2^(n-1)`, capped at 30 minutes per half. The
first retries come within seconds (a blip costs little delay); after about 8 attempts a
dead receiver is tried every 30 to 60 minutes. A delivery is given up when it has been
failing for `RETRY_WINDOW` (a day): about 40 attempts in all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from tenacity import (
    RetryCallState,
    stop_after_delay,
    wait_exponential,
    wait_random_exponential,
)

FIRST_WAIT_SECONDS: Final = 5
MAX_WAIT_SECONDS: Final = 30 * 60  # per half: attempts at most an hour apart
# Receivers get a full day to recover (a weekend outage is caught by replay, which the
# delivery records make easy); longer would hold a subscription's later events back longer.
RETRY_WINDOW: Final = timedelta(days=1)

_WAIT: Final = wait_exponential(
    multiplier=FIRST_WAIT_SECONDS, max=MAX_WAIT_SECONDS
) + wait_random_exponential(multiplier=FIRST_WAIT_SECONDS, max=MAX_WAIT_SECONDS)
_STOP: Final = stop_after_delay(RETRY_WINDOW)


def _state(failures: int, failing_for: timedelta) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = failures
    state.start_time = 0.0
    state.outcome_timestamp = failing_for.total_seconds()
    return state


def next_attempt(failures: int, first_failed_at: datetime, now: datetime) -> datetime | None:
    """When to try again after `failures` failed attempts, or None: give up."""
    state = _state(failures, now - first_failed_at)
    if _STOP(state):
        return None
    return now + timedelta(seconds=_WAIT(state))
