"""The migrations of the two kinds of database: the directory and a shard."""

from __future__ import annotations

from typing import Final

from shards import deliveries, edge, idempotency, outbox, resources, webhooks
from shards.migrations import Migration

_REPLICATED: Final = ("accounts", "api_keys", "shards", "issuers")


def _version_triggers() -> tuple[str, ...]:
    """Every change to a replicated table bumps `directory_version`, in its transaction."""
    statements = []
    for table in _REPLICATED:
        for operation in ("INSERT", "UPDATE", "DELETE"):
            columns = " OF status, scopes, ip_allowlist, expires_at" if table == "api_keys" else ""
            statements.append(
                f"CREATE TRIGGER {table}_{operation.lower()}_version"
                f" AFTER {operation}{columns if operation == 'UPDATE' else ''} ON {table}"
                " BEGIN UPDATE directory_version SET version = version + 1; END"
            )
    return tuple(statements)


DIRECTORY: Final = (
    Migration(
        1,
        "accounts, api keys, shards, issuer placement, outbox",
        (
            """
            CREATE TABLE accounts (
                id         TEXT PRIMARY KEY,
                name       TEXT NOT NULL,
                status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
                created_at TEXT NOT NULL
            ) STRICT
            """,
            """
            CREATE TABLE api_keys (
                id           TEXT PRIMARY KEY,
                account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                name         TEXT NOT NULL,
                digest       TEXT NOT NULL,
                scopes       TEXT NOT NULL,
                ip_allowlist TEXT NOT NULL DEFAULT '[]',
                expires_at   TEXT,
                status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
                created_at   TEXT NOT NULL,
                last_used_at TEXT
            ) STRICT
            """,
            "CREATE INDEX api_keys_by_account ON api_keys (account_id, id)",
            """
            CREATE TABLE shards (
                id         TEXT PRIMARY KEY,
                region     TEXT NOT NULL,
                file       TEXT NOT NULL UNIQUE,
                status     TEXT NOT NULL DEFAULT 'active'
                           CHECK (status IN ('active', 'draining', 'retired')),
                created_at TEXT NOT NULL
            ) STRICT
            """,
            """
            CREATE TABLE issuers (
                id           TEXT PRIMARY KEY,
                account_id   TEXT NOT NULL REFERENCES accounts (id),
                jurisdiction TEXT NOT NULL,
                home_region  TEXT NOT NULL,
                shard_id     TEXT NOT NULL REFERENCES shards (id),
                epoch        INTEGER NOT NULL DEFAULT 1,
                status       TEXT NOT NULL DEFAULT 'active'
                             CHECK (status IN ('active', 'disabled')),
                created_at   TEXT NOT NULL
            ) STRICT
            """,
            "CREATE INDEX issuers_by_account ON issuers (account_id, id)",
            """
            CREATE TABLE directory_version (
                id      INTEGER PRIMARY KEY CHECK (id = 1),
                version INTEGER NOT NULL
            ) STRICT
            """,
            "INSERT INTO directory_version (id, version) VALUES (1, 1)",
            *outbox.SCHEMA,
            *_version_triggers(),
        ),
    ),
    Migration(
        2,
        "key versions, issuer names, settings and versions, idempotency keys",
        (
            "ALTER TABLE api_keys ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE api_keys ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''",
            "UPDATE api_keys SET updated_at = created_at",
            # Names of issuers are not personal data: the directory lists them at the primary.
            # Issuers created before this migration show an empty name until they change.
            "ALTER TABLE issuers ADD COLUMN name TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE issuers ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'",
            "ALTER TABLE issuers ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE issuers ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''",
            "UPDATE issuers SET updated_at = created_at",
            # Nodes need placement and status, not names or settings: only those move the
            # version every node compares.
            "DROP TRIGGER issuers_update_version",
            "CREATE TRIGGER issuers_update_version AFTER UPDATE OF account_id, jurisdiction,"
            " home_region, shard_id, epoch, status ON issuers"
            " BEGIN UPDATE directory_version SET version = version + 1; END",
            *idempotency.SCHEMA,
        ),
    ),
    Migration(
        3,
        "webhook subscriptions; delivery streams and records of account-level events",
        (*webhooks.SCHEMA, *deliveries.SCHEMA),
    ),
)

SHARD: Final = (
    Migration(
        1,
        "issuer configuration, outbox",
        (
            """
            CREATE TABLE issuers (
                id           TEXT PRIMARY KEY,
                account_id   TEXT NOT NULL,
                name         TEXT NOT NULL,
                jurisdiction TEXT NOT NULL,
                home_region  TEXT NOT NULL,
                created_at   TEXT NOT NULL,
                updated_at   TEXT NOT NULL
            ) STRICT
            """,
            *outbox.SCHEMA,
        ),
    ),
    Migration(2, "resources of the identity graph, idempotency keys", resources.SCHEMA),
    Migration(3, "issuer settings and status, signing keys, edge versions", edge.SCHEMA),
    Migration(4, "webhook delivery streams, redeliveries and records", deliveries.SCHEMA),
)
