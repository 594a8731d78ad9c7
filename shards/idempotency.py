"""Stored responses of POSTs made with an `Idempotency-Key`, kept at least `RETENTION`.

Each shard has the table for the identity graph's creates, and the directory has one for
account-level creates (account API keys).

The lookup and the store run inside the same write transaction as the create they guard:
all writes to a shard are serialized, so ten concurrent requests with one key create one
resource and the other nine read its stored response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import orjson

from shards.clock import Clock, rfc3339
from shards.database import Transaction
from shards.errors import Conflict

RETENTION: Final = timedelta(hours=48)  # the contract says at least 24 h; keep a margin

SCHEMA: Final = (
    """
    CREATE TABLE idempotency_keys (
        scope       TEXT NOT NULL,
        key         TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status      INTEGER NOT NULL,
        headers     TEXT NOT NULL,
        body        BLOB NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (scope, key)
    ) STRICT, WITHOUT ROWID
    """,
    "CREATE INDEX idempotency_by_age ON idempotency_keys (created_at)",
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def to_json(self) -> dict[str, object]:
        return {
            "fingerprint": self.fingerprint,
            "status": self.status,
            "headers": dict(self.headers),
            "body": self.body.decode(),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, object]) -> StoredResponse:
        headers = document["headers"]
        assert isinstance(headers, dict)
        return cls(
            str(document["fingerprint"]),
            int(str(document["status"])),
            {str(k): str(v) for k, v in headers.items()},
            str(document["body"]).encode(),
        )


@dataclass(frozen=True, slots=True)
class IdempotentCreate:
    """The idempotency key a create was made with, and the response it is to replay."""

    scope: str
    key: str
    response: StoredResponse


class KeyTaken(Conflict):
    """Another request with the same idempotency key got there first; replay its response."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("the idempotency key was used by a request that completed first")
        self.stored = stored


class IdempotencyStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def find(self, tx: Transaction, scope: str, key: str) -> StoredResponse | None:
        row = await tx.fetch_one(
            "SELECT fingerprint, status, headers, body FROM idempotency_keys"
            " WHERE scope = ? AND key = ? AND created_at > ?",
            (scope, key, rfc3339(self._clock.now() - RETENTION)),
        )
        if row is None:
            return None
        return StoredResponse(row[0], row[1], orjson.loads(row[2]), bytes(row[3]))

    async def store(self, tx: Transaction, scope: str, key: str, response: StoredResponse) -> None:
        cutoff = rfc3339(self._clock.now() - RETENTION)
        await tx.execute("DELETE FROM idempotency_keys WHERE created_at <= ?", (cutoff,))
        await tx.execute(
            "INSERT OR REPLACE INTO idempotency_keys"
            " (scope, key, fingerprint, status, headers, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                scope,
                key,
                response.fingerprint,
                response.status,
                orjson.dumps(dict(response.headers)).decode(),
                response.body,
                rfc3339(self._clock.now()),
            ),
        )
