"""Versioned schema migrations, applied in order when a database opens.

Each migration runs in its own transaction together with the row that records it in
`schema_migrations`, so a crash mid-migration leaves the file at the previous version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from shards.errors import MigrationFailed, SchemaTooNew

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def check_sequence(migrations: Sequence[Migration]) -> None:
    """Versions must be 1, 2, 3, ... with no gap: a gap is a programming error."""
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise ValueError(f"migration versions must be {expected}")


def apply_migrations(
    connection: sqlite3.Connection, path: str, migrations: Sequence[Migration]
) -> int:
    """Bring the file up to the newest migration; return the resulting version."""
    check_sequence(migrations)
    connection.execute(_LEDGER)
    row = connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    current = int(row[0])
    if current > len(migrations):
        raise SchemaTooNew(path, current, len(migrations))
    for migration in migrations[current:]:
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                (migration.version, migration.name),
            )
        except sqlite3.Error as exc:
            connection.execute("ROLLBACK")
            raise MigrationFailed(path, migration.version, migration.name, str(exc)) from exc
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        current = migration.version
    return current
