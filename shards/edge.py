"""What edge nodes need of an issuer, and the version that tells them it changed.

Every node answers token, JWKS and introspection calls for every issuer from an in-memory
*edge snapshot* (see `runtime.edge`). The home shard keeps, per issuer, an edge version that
triggers advance in the same transaction as any change an edge must see: the issuer's
settings, its signing keys, its clients, agents and their verifiers, the memberships of agents
and the organizations they belong to, and revoked tokens. Versions come from one counter per
shard, so `version > n` finds every issuer that changed since `n` in one indexed scan.

Users and their memberships are personal data and never part of an edge snapshot; changing
them does not move the edge version.
"""

from __future__ import annotations

from typing import Final

EDGE_KINDS: Final = ("client", "agent", "verifier", "organization")

_BUMP: Final = (
    "INSERT INTO edge_versions (issuer_id, version)"
    " VALUES ({issuer}, (SELECT COALESCE(MAX(version), 0) + 1 FROM edge_versions))"
    " ON CONFLICT (issuer_id) DO UPDATE SET version = excluded.version"
)


def _resource_triggers() -> tuple[str, ...]:
    kinds = ", ".join(f"'{kind}'" for kind in EDGE_KINDS)
    statements = []
    for operation, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        relevant = (
            f"{row}.kind IN ({kinds}) OR ({row}.kind = 'membership'"
            f" AND json_extract({row}.data, '$.member_id') LIKE 'agt!_%' ESCAPE '!')"
        )
        statements.append(
            f"CREATE TRIGGER resources_{operation.lower()}_edge AFTER {operation} ON resources"
            f" WHEN {relevant}"
            f" BEGIN {_BUMP.format(issuer=f'{row}.issuer_id')}; END"
        )
    return tuple(statements)


def _table_triggers(table: str, issuer_column: str) -> tuple[str, ...]:
    return tuple(
        f"CREATE TRIGGER {table}_{operation.lower()}_edge AFTER {operation} ON {table}"
        f" BEGIN {_BUMP.format(issuer=f'{row}.{issuer_column}')}; END"
        for operation, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    )


SCHEMA: Final = (
    "ALTER TABLE issuers ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE issuers ADD COLUMN status TEXT NOT NULL DEFAULT 'active'"
    " CHECK (status IN ('active', 'disabled'))",
    "ALTER TABLE issuers ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
    """
    CREATE TABLE signing_keys (
        kid          TEXT PRIMARY KEY,
        issuer_id    TEXT NOT NULL,
        alg          TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
        public_jwk   TEXT NOT NULL,
        sealed_key   BLOB NOT NULL,
        created_at   TEXT NOT NULL,
        activates_at TEXT NOT NULL,
        retires_at   TEXT,
        expires_at   TEXT
    ) STRICT
    """,
    "CREATE INDEX signing_keys_by_issuer ON signing_keys (issuer_id, alg, activates_at)",
    """
    CREATE TABLE revoked_tokens (
        issuer_id  TEXT NOT NULL,
        jti        TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (issuer_id, jti)
    ) STRICT, WITHOUT ROWID
    """,
    """
    CREATE TABLE edge_versions (
        issuer_id TEXT PRIMARY KEY,
        version   INTEGER NOT NULL
    ) STRICT
    """,
    "CREATE INDEX edge_versions_by_version ON edge_versions (version)",
    *_resource_triggers(),
    *_table_triggers("issuers", "id"),
    *_table_triggers("signing_keys", "issuer_id"),
    *_table_triggers("revoked_tokens", "issuer_id"),
)
