"""The identity graph's resources in a shard: one table, one shape, every convention.

Every resource is a row with its id, kind, issuer, optional parent (the organization of a
membership, the agent of a verifier, ...), a version that advances on every change (the
ETag), timestamps and a JSON document. Uniqueness rules are partial expression indexes per
kind; lists are keyset scans over `(issuer_id, kind, id)`, and ids are time-ordered, so a
page never shifts under concurrent inserts. Secrets are kept only as SHA-256 digests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from shards import idempotency
from shards.clock import Clock, rfc3339
from shards.database import Database, Row, Transaction
from shards.errors import NotFound, StorageError
from shards.ids import new_id

SCHEMA: Final = (
    """
    CREATE TABLE resources (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL,
        issuer_id     TEXT NOT NULL,
        parent_id     TEXT,
        version       INTEGER NOT NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        secret_digest TEXT,
        data          TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX resources_by_kind ON resources (issuer_id, kind, id)",
    "CREATE INDEX resources_by_parent ON resources (parent_id, kind, id)",
    """
    CREATE UNIQUE INDEX unique_user_email
    ON resources (issuer_id, json_extract(data, '$.email')) WHERE kind = 'user'
    """,
    """
    CREATE UNIQUE INDEX unique_membership
    ON resources (parent_id, json_extract(data, '$.member_id')) WHERE kind = 'membership'
    """,
    """
    CREATE UNIQUE INDEX unique_group_member
    ON resources (parent_id, json_extract(data, '$.member_id')) WHERE kind = 'group_member'
    """,
    *idempotency.SCHEMA,
)


class VersionMismatch(StorageError):
    """The resource changed since the version the caller named (a stale `If-Match`)."""

    def __init__(self, resource_id: str, expected: int, actual: int) -> None:
        super().__init__(f"{resource_id} is at version {actual}, not {expected}")
        self.resource_id = resource_id
        self.actual = actual


@dataclass(frozen=True, slots=True)
class Resource:
    id: str
    kind: str
    issuer_id: str
    parent_id: str | None
    version: int
    created_at: str
    updated_at: str
    data: Mapping[str, Any]
    secret_digest: str | None = None

    @classmethod
    def from_row(cls, row: Row) -> Resource:
        return cls(
            id=row["id"],
            kind=row["kind"],
            issuer_id=row["issuer_id"],
            parent_id=row["parent_id"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            data=orjson.loads(row["data"]),
            secret_digest=row["secret_digest"],
        )


class ResourceStore:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    async def insert(
        self,
        tx: Transaction,
        kind: str,
        prefix: str,
        issuer_id: str,
        data: Mapping[str, Any],
        *,
        parent_id: str | None = None,
        secret_digest: str | None = None,
        resource_id: str | None = None,
    ) -> Resource:
        now = rfc3339(self._clock.now())
        resource = Resource(
            resource_id or new_id(prefix),
            kind,
            issuer_id,
            parent_id,
            1,
            now,
            now,
            dict(data),
            secret_digest,
        )
        await tx.execute(
            "INSERT INTO resources (id, kind, issuer_id, parent_id, version, created_at,"
            " updated_at, secret_digest, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                resource.id,
                kind,
                issuer_id,
                parent_id,
                1,
                now,
                now,
                secret_digest,
                orjson.dumps(resource.data).decode(),
            ),
        )
        return resource

    async def find(
        self, tx: Transaction | None, issuer_id: str, kind: str, resource_id: str
    ) -> Resource:
        """One resource of this issuer and kind; `NotFound` for any other."""
        sql = "SELECT * FROM resources WHERE id = ? AND issuer_id = ? AND kind = ?"
        params = (resource_id, issuer_id, kind)
        row = await (tx.fetch_one(sql, params) if tx else self._database.fetch_one(sql, params))
        if row is None:
            raise NotFound(kind, resource_id)
        return Resource.from_row(row)

    async def page(
        self,
        issuer_id: str,
        kind: str,
        *,
        parent_id: str | None = None,
        after: str | None = None,
        limit: int = 20,
        filters: Mapping[str, str | int | bool] | None = None,
        tx: Transaction | None = None,
    ) -> list[Resource]:
        """A page in id (creation) order, after the id `after`."""
        clauses = ["issuer_id = ?", "kind = ?"]
        params: list[Any] = [issuer_id, kind]
        if parent_id is not None:
            clauses.append("parent_id = ?")
            params.append(parent_id)
        if after is not None:
            clauses.append("id > ?")
            params.append(after)
        for name, value in (filters or {}).items():
            clauses.append(f"json_extract(data, '$.{_identifier(name)}') = ?")
            params.append(value)
        sql = f"SELECT * FROM resources WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?"
        params.append(limit)
        rows = await (tx.fetch_all(sql, params) if tx else self._database.fetch_all(sql, params))
        return [Resource.from_row(row) for row in rows]

    async def count(self, tx: Transaction, issuer_id: str, kind: str, parent_id: str) -> int:
        row = await tx.fetch_one(
            "SELECT COUNT(*) FROM resources WHERE issuer_id = ? AND kind = ? AND parent_id = ?",
            (issuer_id, kind, parent_id),
        )
        return int(row[0]) if row else 0

    async def update(
        self,
        tx: Transaction,
        resource: Resource,
        data: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Resource:
        """Replace the document, advancing the version; refuse if the version moved."""
        if expected_version is not None and expected_version != resource.version:
            raise VersionMismatch(resource.id, expected_version, resource.version)
        now = rfc3339(self._clock.now())
        changed = await tx.execute(
            "UPDATE resources SET data = ?, version = version + 1, updated_at = ?"
            " WHERE id = ? AND version = ?",
            (orjson.dumps(dict(data)).decode(), now, resource.id, resource.version),
        )
        if changed != 1:
            current = await self.find(tx, resource.issuer_id, resource.kind, resource.id)
            raise VersionMismatch(resource.id, resource.version, current.version)
        return Resource(
            resource.id,
            resource.kind,
            resource.issuer_id,
            resource.parent_id,
            resource.version + 1,
            resource.created_at,
            now,
            dict(data),
            resource.secret_digest,
        )

    async def delete(self, tx: Transaction, resource: Resource) -> None:
        await tx.execute("DELETE FROM resources WHERE id = ?", (resource.id,))

    async def children(
        self, tx: Transaction, parent_ids: Sequence[str], kinds: Sequence[str]
    ) -> list[Resource]:
        """Every resource of `kinds` under any of `parent_ids` (for cascades)."""
        if not parent_ids:
            return []
        marks = ",".join("?" * len(parent_ids))
        kind_marks = ",".join("?" * len(kinds))
        rows = await tx.fetch_all(
            f"SELECT * FROM resources WHERE parent_id IN ({marks}) AND kind IN ({kind_marks})"
            " ORDER BY id",
            [*parent_ids, *kinds],
        )
        return [Resource.from_row(row) for row in rows]

    async def referencing(
        self, tx: Transaction, issuer_id: str, kind: str, field: str, value: str
    ) -> list[Resource]:
        """Resources of `kind` whose document field equals `value` (e.g. a user's memberships)."""
        rows = await tx.fetch_all(
            "SELECT * FROM resources WHERE issuer_id = ? AND kind = ?"
            f" AND json_extract(data, '$.{_identifier(field)}') = ? ORDER BY id",
            (issuer_id, kind, value),
        )
        return [Resource.from_row(row) for row in rows]


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a field name: {name!r}")
    return name
