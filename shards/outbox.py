"""The outbox: every state change writes its event in the same transaction.

An event is `evt_...` with a type (`issuer.created`), a subject (the id it is about), the time,
the actor that caused it and a JSON `data` object: the fields of a CloudEvents 1.0 envelope
but `source`, which the deliverer derives from the issuer. `seq` gives the order of commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from shards.clock import Clock, rfc3339
from shards.database import Database, Row, Transaction
from shards.ids import new_id

SYSTEM_ACTOR: Final = "system"
# Who caused an event, by the prefix of the actor's id; anything else is the platform itself
# (`system`, or an operator's tool: `operator`, `bootstrap`).
ACTOR_TYPES: Final = {
    "key": "api_key",
    "usr": "user",
    "agt": "agent",
    "c": "client",
    "ptk": "personal_token",
}


def actor_type(actor: str) -> str:
    """api_key, user, agent, client, personal_token, or system."""
    prefix, sep, _ = actor.partition("_")
    return ACTOR_TYPES.get(prefix, "system") if sep else "system"


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What a subscription wants from one database's outbox."""

    types: Sequence[str]
    issuer_ids: Sequence[str] | None = None  # None: any issuer, and events of no issuer
    account_id: str | None = None  # the directory's events name their account


SCHEMA: Final = (
    """
    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        account_id TEXT,
        issuer_id  TEXT,
        type       TEXT NOT NULL,
        subject    TEXT NOT NULL,
        actor      TEXT NOT NULL,
        time       TEXT NOT NULL,
        data       TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX events_by_issuer ON events (issuer_id, seq)",
    "CREATE INDEX events_by_subject ON events (subject, seq)",
)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    subject: str
    actor: str
    time: str
    data: Mapping[str, Any]
    account_id: str | None = None
    issuer_id: str | None = None
    seq: int = 0  # the commit order, known once stored


class Outbox:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    async def record(
        self,
        tx: Transaction,
        type: str,
        subject: str,
        data: Mapping[str, Any],
        *,
        actor: str = SYSTEM_ACTOR,
        account_id: str | None = None,
        issuer_id: str | None = None,
    ) -> Event:
        """Write one event inside the caller's transaction: it commits or rolls back with it."""
        event = Event(
            id=new_id("evt"),
            type=type,
            subject=subject,
            actor=actor,
            time=rfc3339(self._clock.now()),
            data=data,
            account_id=account_id,
            issuer_id=issuer_id,
        )
        row = await tx.fetch_one(
            "INSERT INTO events (id, account_id, issuer_id, type, subject, actor, time, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
            (
                event.id,
                account_id,
                issuer_id,
                type,
                subject,
                actor,
                event.time,
                orjson.dumps(data).decode(),
            ),
        )
        assert row is not None  # RETURNING yields the inserted row
        return dataclasses.replace(event, seq=int(row[0]))

    async def pending(self, after_seq: int, wanted: EventFilter, limit: int) -> list[Event]:
        """The next events a subscription wants, in commit order."""
        clauses, params = _filter_clauses(wanted)
        rows = await self._database.fetch_all(
            f"SELECT * FROM events WHERE seq > ? AND {' AND '.join(clauses)} ORDER BY seq LIMIT ?",
            [after_seq, *params, limit],
        )
        return [_event(row) for row in rows]

    async def between(self, since: str, until: str, wanted: EventFilter, limit: int) -> list[Event]:
        """The events a subscription wants with `since <= time < until`, in commit order."""
        clauses, params = _filter_clauses(wanted)
        rows = await self._database.fetch_all(
            f"SELECT * FROM events WHERE time >= ? AND time < ? AND {' AND '.join(clauses)}"
            " ORDER BY seq LIMIT ?",
            [since, until, *params, limit],
        )
        return [_event(row) for row in rows]

    async def find(self, event_id: str) -> Event | None:
        row = await self._database.fetch_one("SELECT * FROM events WHERE id = ?", (event_id,))
        return _event(row) if row is not None else None

    async def at(self, seq: int) -> Event | None:
        row = await self._database.fetch_one("SELECT * FROM events WHERE seq = ?", (seq,))
        return _event(row) if row is not None else None

    async def list(
        self,
        *,
        after_seq: int = 0,
        limit: int = 100,
        issuer_id: str | None = None,
        type: str | None = None,
        subject: str | None = None,
        account_id: str | None = None,
    ) -> list[Event]:
        """Events in commit order after `after_seq`, filtered by issuer, type and subject."""
        clauses: list[str] = ["seq > ?"]
        params: list[int | str] = [after_seq]
        for column, value in (
            ("issuer_id", issuer_id),
            ("type", type),
            ("subject", subject),
            ("account_id", account_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        rows = await self._database.fetch_all(
            f"SELECT * FROM events WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?",
            [*params, limit],
        )
        return [_event(row) for row in rows]


def _filter_clauses(wanted: EventFilter) -> tuple[list[str], list[str]]:
    clauses = [f"type IN ({', '.join('?' * len(wanted.types))})"]
    params = list(wanted.types)
    if wanted.issuer_ids is not None:
        clauses.append(f"issuer_id IN ({', '.join('?' * len(wanted.issuer_ids))})")
        params += wanted.issuer_ids
    if wanted.account_id is not None:
        clauses.append("account_id = ?")
        params.append(wanted.account_id)
    return clauses, params


def _event(row: Row) -> Event:
    return Event(
        id=row["id"],
        type=row["type"],
        subject=row["subject"],
        actor=row["actor"],
        time=row["time"],
        data=orjson.loads(row["data"]),
        account_id=row["account_id"],
        issuer_id=row["issuer_id"],
        seq=row["seq"],
    )
