"""The dispatcher: one per database a node owns (each local shard; the directory on the
primary), tailing its outbox for every subscription that wants something from it.

For each subscription the dispatcher keeps a stream (`shards.deliveries`): it sends the next
wanted event after the stream's position, and only when that attempt succeeded, or the
event was given up on after `backoff.RETRY_WINDOW` of failures, does it move on. So a
subscription receives one issuer's events in commit order (which is event time order), and
a receiver that is down holds its own stream back and no other. Each attempt's record and
the stream's new state commit together once the attempt is over; a node killed mid-request
sends that event again after it restarts: at least once, never lost.

A subscription whose delivery is given up on is disabled (`webhook.disabled`, with the
reason) through the directory, and its stream here pauses until the subscription changes.

Passes run when a commit or a directory change wakes the dispatcher, when a retry falls due,
and every `POLL_SECONDS` otherwise. A pass reads the redelivery queue only when something
there can have changed: a redelivery was asked for through this node, the earliest one it
knows of is due, or `POLL_SECONDS` have gone by (another process may have written); so a
commit of an ordinary write costs no query of it. Time comes from the node's clock, so tests
move time on and call `settle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from runtime.background import stop_task
from runtime.webhooks import envelope
from runtime.webhooks.backoff import RETRY_WINDOW, next_attempt
from runtime.webhooks.outbound import Attempt, Sender
from shards.clock import Clock, rfc3339
from shards.database import Database
from shards.deliveries import DeliveryStore, Redelivery
from shards.errors import StorageError
from shards.keys import Sealer, SealError
from shards.outbox import Event, EventFilter, Outbox
from shards.webhooks import Webhook, signing_secrets

log = logging.getLogger("authpi.webhooks")

BATCH: Final = 100  # events one subscription is sent per pass before others get a turn
PARALLEL: Final = 16  # subscriptions delivered to at once by one dispatcher
POLL_SECONDS: Final = 1.0  # the longest a due retry or a new subscription waits unnoticed
MAINTENANCE_EVERY: Final = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Feed:
    """One database's outbox and delivery state, and what each subscription wants of it."""

    name: str
    database: Database
    outbox: Outbox
    deliveries: DeliveryStore
    scope: Callable[[Webhook], EventFilter | None]  # None: nothing here for this one


GiveUp = Callable[[Webhook, str], Awaitable[bool]]


class Dispatcher:
    def __init__(
        self,
        feed: Feed,
        subscriptions: Callable[[], Mapping[str, Webhook]],
        sender: Sender,
        sealer: Sealer,
        clock: Clock,
        public_url: str,
        give_up: GiveUp,
    ) -> None:
        self.feed = feed
        self._subscriptions = subscriptions
        self._sender = sender
        self._sealer = sealer
        self._clock = clock
        self._public_url = public_url
        self._give_up = give_up
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._limit = asyncio.Semaphore(PARALLEL)
        self._next_due: str | None = None
        self._redelivery_due: str | None = None  # the earliest redelivery, as last read
        self._redeliveries_read_at = -math.inf  # monotonic
        self._queued_seen = -1
        self._maintained: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        feed.database.on_commit(self.wake)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"webhooks {self.feed.name}")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def settle(self) -> None:
        """Run passes until nothing is due at the clock's current time."""
        while await self.deliver_due():
            pass

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                busy = await self.deliver_due()
            except StorageError as exc:
                log.warning("webhook deliveries from %s paused: %s", self.feed.name, exc)
                busy = False
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._idle_seconds()):
                    await self._wake.wait()

    def _idle_seconds(self) -> float:
        if self._next_due is None:
            return POLL_SECONDS
        due = datetime.fromisoformat(self._next_due)
        return min(POLL_SECONDS, max(0.0, (due - self._clock.now()).total_seconds()))

    async def deliver_due(self) -> bool:
        """One pass: every subscription's due events and due redeliveries. True when an
        attempt was made (there may be more to do at once)."""
        async with self._lock:
            self._next_due = None
            webhooks = self._subscriptions()
            made = await asyncio.gather(
                *(self._stream(webhook) for webhook in webhooks.values()),
                self._redeliveries(webhooks),
            )
            await self._maintain(webhooks)
            return any(made)

    def _due(self, at: str) -> None:
        if self._next_due is None or at < self._next_due:
            self._next_due = at

    async def _stream(self, webhook: Webhook) -> bool:
        wanted = self.feed.scope(webhook)
        if wanted is None:
            return False
        store = self.feed.deliveries
        async with self._limit:
            stream = await store.stream(webhook.id, webhook.created_at)
            if stream.paused_version is not None:
                if stream.paused_version == webhook.version:
                    await self._give_up(webhook, stream.paused_reason or "deliveries failed")
                    return False
                await store.resume(webhook.id)  # changed since: deliver again
            if not webhook.enabled:
                return False
            due = stream.next_attempt_at
            if due is not None and due > rfc3339(self._clock.now()):
                self._due(due)
                return False
            events = await self.feed.outbox.pending(stream.after_seq, wanted, BATCH)
            failures, first_failed = stream.attempts, stream.first_failed_at
            for event in events:
                headers, attempt = await self._attempt(webhook, event)
                now, reason = self._clock.now(), ""
                async with self.feed.database.transaction() as tx:
                    if attempt.succeeded:
                        await store.record(
                            tx, _record(webhook, event, "event", failures + 1, headers, attempt)
                        )
                        await store.advance(tx, webhook.id, event.seq)
                        failures, first_failed = 0, None
                        continue
                    failures += 1
                    first_failed = first_failed or rfc3339(now)
                    retry = next_attempt(failures, datetime.fromisoformat(first_failed), now)
                    at = rfc3339(retry) if retry is not None else None
                    await store.record(
                        tx, _record(webhook, event, "event", failures, headers, attempt, at)
                    )
                    if at is not None:
                        await store.retry_later(tx, webhook.id, failures, first_failed, at)
                    else:
                        reason = _reason(webhook, failures, attempt)
                        await store.advance(tx, webhook.id, event.seq)
                        await store.pause(tx, webhook.id, webhook.version, reason)
                if at is not None:
                    self._due(at)
                else:
                    log.warning("webhook %s given up: %s", webhook.id, reason)
                    await self._give_up(webhook, reason)
                return True
            return bool(events)

    async def _redeliveries(self, webhooks: Mapping[str, Webhook]) -> bool:
        store = self.feed.deliveries
        known = self._redelivery_due
        if (
            store.queued == self._queued_seen
            and time.monotonic() - self._redeliveries_read_at < POLL_SECONDS
            and (known is None or known > rfc3339(self._clock.now()))
        ):
            if known is not None:
                self._due(known)
            return False
        self._queued_seen = store.queued
        self._redeliveries_read_at = time.monotonic()
        made = False
        for item in await store.due(BATCH):
            webhook = webhooks.get(item.webhook_id)
            event = await self.feed.outbox.at(item.event_seq)
            if webhook is None or not webhook.enabled or event is None:
                # Deleted or disabled since it was asked for, or the issuer is gone: nothing
                # to send. The event stays readable and can be asked for again.
                async with self.feed.database.transaction() as tx:
                    await store.done(tx, item.id)
                continue
            made = True
            await self._redeliver(store, webhook, event, item)
        next_due = self._redelivery_due = await store.next_due()
        if next_due is not None:
            self._due(next_due)
        return made

    async def _redeliver(
        self, store: DeliveryStore, webhook: Webhook, event: Event, item: Redelivery
    ) -> None:
        headers, attempt = await self._attempt(webhook, event)
        now = self._clock.now()
        failures = item.attempts + 1
        first_failed = item.first_failed_at or rfc3339(now)
        retry = None
        if not attempt.succeeded:
            retry = next_attempt(failures, datetime.fromisoformat(first_failed), now)
        at = rfc3339(retry) if retry is not None else None
        async with self.feed.database.transaction() as tx:
            await store.record(
                tx, _record(webhook, event, item.trigger, failures, headers, attempt, at)
            )
            if at is None:
                await store.done(tx, item.id)
            else:
                await store.redeliver_later(tx, item.id, failures, first_failed, at)

    async def _attempt(self, webhook: Webhook, event: Event) -> tuple[dict[str, str], Attempt]:
        now = self._clock.now()
        source = envelope.source(self._public_url, webhook.account_id, event.issuer_id)
        body = envelope.body(event, source)
        try:
            secrets = signing_secrets(self._sealer, webhook, rfc3339(now))
        except SealError as exc:
            log.error("webhook %s: %s", webhook.id, exc)
            return {}, Attempt(None, None, 0, "not sent: the signing secret did not open")
        headers = envelope.headers(secrets, event.id, now, body)
        return headers, await self._sender.send(webhook.url, headers, body)

    async def _maintain(self, webhooks: Mapping[str, Webhook]) -> None:
        """Now and then: forget deleted subscriptions, drop records past their retention."""
        now = self._clock.now()
        if self._maintained is not None and now - self._maintained < MAINTENANCE_EVERY:
            return
        self._maintained = now
        await self.feed.deliveries.forget(set(webhooks))
        await self.feed.deliveries.prune(now)


def _record(
    webhook: Webhook,
    event: Event,
    trigger: str,
    attempt_number: int,
    headers: Mapping[str, str],
    attempt: Attempt,
    next_attempt_at: str | None = None,
) -> dict[str, object]:
    if attempt.succeeded:
        outcome = "succeeded"
    else:
        outcome = "retrying" if next_attempt_at is not None else "failed"
    return {
        "webhook_id": webhook.id,
        "event_id": event.id,
        "event_type": event.type,
        "issuer_id": event.issuer_id,
        "trigger": trigger,
        "attempt": attempt_number,
        "outcome": outcome,
        "url": webhook.url,
        "request_headers": dict(headers),
        "status_code": attempt.status_code,
        "response_excerpt": attempt.response_excerpt,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
        "next_attempt_at": next_attempt_at,
    }


def _reason(webhook: Webhook, failures: int, attempt: Attempt) -> str:
    hours = int(RETRY_WINDOW.total_seconds() // 3600)
    return (
        f"every delivery to {webhook.url} failed for {hours} hours ({failures} attempts);"
        f" the last: {attempt.error or 'no answer'}"
    )
