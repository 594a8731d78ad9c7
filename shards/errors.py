"""Storage errors. `sqlite3` errors never leave `shards/`; they are mapped here.

StorageError                 any failure of the storage layer
├── NotFound                 the row a caller named does not exist
├── Conflict                 a uniqueness or foreign-key rule refused the write
├── SchemaTooNew             the file was migrated by a newer AuthPI
├── MigrationFailed          a migration failed; the file stays at the version before it
└── StorageUnavailable       the file could not be opened, read or written (I/O, lock)
"""

from __future__ import annotations

import sqlite3


class StorageError(Exception):
    """Base class of every storage error."""


class NotFound(StorageError):
    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"{kind} {identifier!r} not found")
        self.kind = kind
        self.identifier = identifier


class Conflict(StorageError):
    """A constraint refused the write; nothing was stored."""


class SchemaTooNew(StorageError):
    def __init__(self, path: str, found: int, known: int) -> None:
        super().__init__(
            f"{path} is at schema version {found}, this AuthPI knows up to {known}; upgrade AuthPI"
        )


class MigrationFailed(StorageError):
    def __init__(self, path: str, version: int, name: str, reason: str) -> None:
        super().__init__(f"{path}: migration {version} ({name}) failed: {reason}")


class StorageUnavailable(StorageError):
    """The database could not be used right now (I/O error, lock held too long)."""


def map_sqlite_error(exc: sqlite3.Error) -> StorageError:
    """The most specific storage error for a `sqlite3` error (raise it `from exc`)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return Conflict(str(exc))
    return StorageUnavailable(f"{type(exc).__name__}: {exc}")
