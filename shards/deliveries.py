"""Webhook delivery state, kept in the database whose outbox the events come from.

Each shard (and the directory, for account-level events) holds, per subscription:

- a *stream*: `after_seq`, the outbox position up to which every wanted event is done
  (delivered, or given up on), and the retry state of the event just after it. Events are
  delivered one at a time in `seq` order, so event n+1 never reaches a receiver before event
  n succeeded or was given up on. A stream that gave up is *paused* at the subscription's
  version, until the subscription changes (it is disabled, then enabled again or fixed);
- *redeliveries*: events asked for again through the API (one event, or a time range),
  delivered out of band, beside the stream;
- *deliveries* (`dlv_`): one record per attempt, with the request headers, the status, an
  excerpt of the response, the latency and the error.

State and records change in one transaction per attempt, after the attempt: a node that
dies mid-request sends that event again when it restarts (at least once; receivers remove
duplicates by the event id, which is also `webhook-id`). Records stay in the region of the
database they describe, like the events they carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson

from shards.clock import Clock, rfc3339
from shards.database import Database, Row, Transaction
from shards.ids import new_id

RETENTION: Final = timedelta(days=30)  # how long attempts stay readable through the API
OUTCOMES: Final = ("succeeded", "retrying", "failed")
TRIGGERS: Final = ("event", "redeliver", "replay")

SCHEMA: Final = (
    """
    CREATE TABLE webhook_streams (
        webhook_id      TEXT PRIMARY KEY,
        after_seq       INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        first_failed_at TEXT,
        next_attempt_at TEXT,
        paused_version  INTEGER,
        paused_reason   TEXT
    ) STRICT
    """,
    """
    CREATE TABLE webhook_redeliveries (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        webhook_id      TEXT NOT NULL,
        event_seq       INTEGER NOT NULL,
        trigger         TEXT NOT NULL CHECK (trigger IN ('redeliver', 'replay')),
        requested_by    TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        first_failed_at TEXT,
        next_attempt_at TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX webhook_redeliveries_due ON webhook_redeliveries (next_attempt_at, id)",
    """
    CREATE TABLE deliveries (
        id               TEXT PRIMARY KEY,
        webhook_id       TEXT NOT NULL,
        event_id         TEXT NOT NULL,
        event_type       TEXT NOT NULL,
        issuer_id        TEXT,
        trigger          TEXT NOT NULL CHECK (trigger IN ('event', 'redeliver', 'replay')),
        attempt          INTEGER NOT NULL,
        outcome          TEXT NOT NULL CHECK (outcome IN ('succeeded', 'retrying', 'failed')),
        url              TEXT NOT NULL,
        request_headers  TEXT NOT NULL,
        status_code      INTEGER,
        response_excerpt TEXT,
        latency_ms       INTEGER NOT NULL,
        error            TEXT,
        next_attempt_at  TEXT,
        created_at       TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, id)",
    "CREATE INDEX deliveries_by_issuer ON deliveries (webhook_id, issuer_id, id)",
    "CREATE INDEX deliveries_by_age ON deliveries (created_at)",
    "CREATE INDEX events_by_time ON events (time, seq)",
)


@dataclass(frozen=True, slots=True)
class Stream:
    webhook_id: str
    after_seq: int
    attempts: int
    first_failed_at: str | None
    next_attempt_at: str | None
    paused_version: int | None
    paused_reason: str | None

    @classmethod
    def from_row(cls, row: Row) -> Stream:
        return cls(
            row["webhook_id"],
            row["after_seq"],
            row["attempts"],
            row["first_failed_at"],
            row["next_attempt_at"],
            row["paused_version"],
            row["paused_reason"],
        )


@dataclass(frozen=True, slots=True)
class Redelivery:
    id: int
    webhook_id: str
    event_seq: int
    trigger: str
    requested_by: str
    attempts: int
    first_failed_at: str | None
    next_attempt_at: str

    @classmethod
    def from_row(cls, row: Row) -> Redelivery:
        return cls(
            row["id"],
            row["webhook_id"],
            row["event_seq"],
            row["trigger"],
            row["requested_by"],
            row["attempts"],
            row["first_failed_at"],
            row["next_attempt_at"],
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver one event to one subscription."""

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    issuer_id: str | None
    trigger: str
    attempt: int
    outcome: str
    url: str
    request_headers: Mapping[str, str]
    status_code: int | None
    response_excerpt: str | None
    latency_ms: int
    error: str | None
    next_attempt_at: str | None
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> Delivery:
        return cls(
            id=row["id"],
            webhook_id=row["webhook_id"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            issuer_id=row["issuer_id"],
            trigger=row["trigger"],
            attempt=row["attempt"],
            outcome=row["outcome"],
            url=row["url"],
            request_headers=orjson.loads(row["request_headers"]),
            status_code=row["status_code"],
            response_excerpt=row["response_excerpt"],
            latency_ms=row["latency_ms"],
            error=row["error"],
            next_attempt_at=row["next_attempt_at"],
            created_at=row["created_at"],
        )


class DeliveryStore:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock
        self.queued = 0  # redeliveries asked for through this store: the dispatcher looks again

    # streams

    async def stream(self, webhook_id: str, created_at: str) -> Stream:
        """The subscription's stream here, started on first sight at the first event
        committed at or after the subscription's creation (so none is missed while the
        subscription travels to this node, and none from before it is sent)."""
        row = await self._database.fetch_one(
            "SELECT * FROM webhook_streams WHERE webhook_id = ?", (webhook_id,)
        )
        if row is not None:
            return Stream.from_row(row)
        async with self._database.transaction() as tx:
            first = await tx.fetch_one(
                "SELECT seq FROM events WHERE time >= ? ORDER BY time, seq LIMIT 1", (created_at,)
            )
            if first is not None:
                after = int(first[0]) - 1
            else:
                last = await tx.fetch_one("SELECT coalesce(max(seq), 0) FROM events")
                after = int(last[0]) if last is not None else 0
            await tx.execute(
                "INSERT INTO webhook_streams (webhook_id, after_seq) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                (webhook_id, after),
            )
            row = await tx.fetch_one(
                "SELECT * FROM webhook_streams WHERE webhook_id = ?", (webhook_id,)
            )
        assert row is not None  # inserted, or there already
        return Stream.from_row(row)

    async def advance(self, tx: Transaction, webhook_id: str, seq: int) -> None:
        """The event at `seq` is done: the stream moves past it, with a clean retry state."""
        await tx.execute(
            "UPDATE webhook_streams SET after_seq = ?, attempts = 0, first_failed_at = NULL,"
            " next_attempt_at = NULL WHERE webhook_id = ?",
            (seq, webhook_id),
        )

    async def retry_later(
        self, tx: Transaction, webhook_id: str, attempts: int, first_failed_at: str, at: str
    ) -> None:
        await tx.execute(
            "UPDATE webhook_streams SET attempts = ?, first_failed_at = ?, next_attempt_at = ?"
            " WHERE webhook_id = ?",
            (attempts, first_failed_at, at, webhook_id),
        )

    async def pause(self, tx: Transaction, webhook_id: str, version: int, reason: str) -> None:
        await tx.execute(
            "UPDATE webhook_streams SET paused_version = ?, paused_reason = ? WHERE webhook_id = ?",
            (version, reason, webhook_id),
        )

    async def resume(self, webhook_id: str) -> None:
        async with self._database.transaction() as tx:
            await tx.execute(
                "UPDATE webhook_streams SET paused_version = NULL, paused_reason = NULL"
                " WHERE webhook_id = ?",
                (webhook_id,),
            )

    async def forget(self, known: set[str]) -> None:
        """Drop the streams and queued redeliveries of subscriptions that no longer exist."""
        rows = await self._database.fetch_all(
            "SELECT webhook_id FROM webhook_streams UNION"
            " SELECT webhook_id FROM webhook_redeliveries"
        )
        gone = [row[0] for row in rows if row[0] not in known]
        if not gone:
            return
        async with self._database.transaction() as tx:
            for webhook_id in gone:
                await tx.execute("DELETE FROM webhook_streams WHERE webhook_id = ?", (webhook_id,))
                await tx.execute(
                    "DELETE FROM webhook_redeliveries WHERE webhook_id = ?", (webhook_id,)
                )

    # redeliveries

    async def queue(
        self, tx: Transaction, webhook_id: str, seqs: list[int], trigger: str, requested_by: str
    ) -> int:
        now = rfc3339(self._clock.now())
        for seq in seqs:
            await tx.execute(
                "INSERT INTO webhook_redeliveries (webhook_id, event_seq, trigger, requested_by,"
                " next_attempt_at) VALUES (?, ?, ?, ?, ?)",
                (webhook_id, seq, trigger, requested_by, now),
            )
        self.queued += 1
        return len(seqs)

    async def due(self, limit: int) -> list[Redelivery]:
        rows = await self._database.fetch_all(
            "SELECT * FROM webhook_redeliveries WHERE next_attempt_at <= ?"
            " ORDER BY next_attempt_at, id LIMIT ?",
            (rfc3339(self._clock.now()), limit),
        )
        return [Redelivery.from_row(row) for row in rows]

    async def next_due(self) -> str | None:
        row = await self._database.fetch_one(
            "SELECT min(next_attempt_at) FROM webhook_redeliveries"
        )
        return row[0] if row is not None else None

    async def done(self, tx: Transaction, redelivery_id: int) -> None:
        await tx.execute("DELETE FROM webhook_redeliveries WHERE id = ?", (redelivery_id,))

    async def redeliver_later(
        self, tx: Transaction, redelivery_id: int, attempts: int, first_failed_at: str, at: str
    ) -> None:
        await tx.execute(
            "UPDATE webhook_redeliveries SET attempts = ?, first_failed_at = ?,"
            " next_attempt_at = ? WHERE id = ?",
            (attempts, first_failed_at, at, redelivery_id),
        )

    # delivery records

    async def record(self, tx: Transaction, delivery: Mapping[str, Any]) -> Delivery:
        """Store one attempt; `delivery` has every field of `Delivery` but id and time."""
        record = Delivery(id=new_id("dlv"), created_at=rfc3339(self._clock.now()), **delivery)
        await tx.execute(
            "INSERT INTO deliveries (id, webhook_id, event_id, event_type, issuer_id, trigger,"
            " attempt, outcome, url, request_headers, status_code, response_excerpt,"
            " latency_ms, error, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.webhook_id,
                record.event_id,
                record.event_type,
                record.issuer_id,
                record.trigger,
                record.attempt,
                record.outcome,
                record.url,
                orjson.dumps(dict(record.request_headers)).decode(),
                record.status_code,
                record.response_excerpt,
                record.latency_ms,
                record.error,
                record.next_attempt_at,
                record.created_at,
            ),
        )
        return record

    async def page(
        self,
        webhook_id: str,
        *,
        issuer_id: str | None,
        after: str | None,
        limit: int,
        filters: Mapping[str, str],
    ) -> list[Delivery]:
        """Attempts in the order they were made, after the record `after`."""
        clauses: list[str] = ["webhook_id = ?"]
        params: list[str | int] = [webhook_id]
        if issuer_id is not None:
            clauses.append("issuer_id = ?")
            params.append(issuer_id)
        if after is not None:
            clauses.append("id > ?")
            params.append(after)
        for column in ("event_id", "outcome"):
            if column in filters:
                clauses.append(f"{column} = ?")
                params.append(filters[column])
        rows = await self._database.fetch_all(
            f"SELECT * FROM deliveries WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?",
            [*params, limit],
        )
        return [Delivery.from_row(row) for row in rows]

    async def prune(self, now: datetime) -> int:
        async with self._database.transaction() as tx:
            return await tx.execute(
                "DELETE FROM deliveries WHERE created_at < ?", (rfc3339(now - RETENTION),)
            )
