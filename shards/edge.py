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

import base64
from typing import Any, Final

import orjson

from shards.clock import Clock, rfc3339
from shards.database import Database
from shards.issuers import DEFAULT_SETTINGS
from shards.keys import KeyStore
from shards.outbox import Outbox

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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class EdgeStore:
    """Builds an issuer's edge snapshot in its home shard, and lists what changed."""

    def __init__(self, database: Database, outbox: Outbox, clock: Clock, keys: KeyStore) -> None:
        self._database = database
        self._outbox = outbox
        self._clock = clock
        self._keys = keys

    async def revoke(
        self, issuer_id: str, account_id: str, jti: str, expires_at: int, client_id: str
    ) -> bool:
        """Add an access token to the revocation set until it expires; False if it was in it."""
        async with self._database.transaction() as tx:
            added = await tx.execute(
                "INSERT INTO revoked_tokens (issuer_id, jti, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (issuer_id, jti, expires_at),
            )
            if added:
                await self._outbox.record(
                    tx,
                    "access_token.revoked",
                    client_id,
                    {"jti": jti, "client_id": client_id, "expires_at": expires_at},
                    actor=client_id,
                    account_id=account_id,
                    issuer_id=issuer_id,
                )
            await tx.execute(
                "DELETE FROM revoked_tokens WHERE issuer_id = ? AND expires_at < ?",
                (issuer_id, int(self._clock.now().timestamp())),
            )
        return bool(added)

    async def version(self, issuer_id: str) -> int:
        row = await self._database.fetch_one(
            "SELECT version FROM edge_versions WHERE issuer_id = ?", (issuer_id,)
        )
        return int(row["version"]) if row else 0

    async def changes(self, since: int, limit: int = 1000) -> list[tuple[str, int]]:
        """Issuers whose edge version moved past `since`, oldest change first."""
        rows = await self._database.fetch_all(
            "SELECT issuer_id, version FROM edge_versions WHERE version > ?"
            " ORDER BY version LIMIT ?",
            (since, limit),
        )
        return [(row["issuer_id"], int(row["version"])) for row in rows]

    async def snapshot(self, issuer_id: str) -> dict[str, Any] | None:
        """What every node needs to answer the issuer's edge work, or None if it is not here.

        Only ids, statuses, scopes, lifetimes, secret digests and public or sealed keys:
        no names, no metadata, nothing about users.
        """
        issuer = await self._database.fetch_one("SELECT * FROM issuers WHERE id = ?", (issuer_id,))
        if issuer is None:
            return None
        settings = {**DEFAULT_SETTINGS, **orjson.loads(issuer["settings"])}
        algs = (settings["access_token_signing_alg"], settings["id_token_signing_alg"])
        await self._keys.ensure(issuer_id, issuer["account_id"], algs)
        now = rfc3339(self._clock.now())
        async with self._database.reading() as tx:
            version = await tx.fetch_one(
                "SELECT version FROM edge_versions WHERE issuer_id = ?", (issuer_id,)
            )
            issuer = await tx.fetch_one("SELECT * FROM issuers WHERE id = ?", (issuer_id,))
            if issuer is None:
                return None
            keys = await tx.fetch_all(
                "SELECT * FROM signing_keys WHERE issuer_id = ?"
                " AND (expires_at IS NULL OR expires_at > ?) ORDER BY alg, activates_at",
                (issuer_id, now),
            )
            rows = await tx.fetch_all(
                "SELECT id, kind, parent_id, secret_digest, data FROM resources"
                " WHERE issuer_id = ? AND kind IN ('client', 'agent', 'verifier') ORDER BY id",
                (issuer_id,),
            )
            memberships = await tx.fetch_all(
                "SELECT m.id, m.parent_id, m.data, o.data AS organization FROM resources AS m"
                " JOIN resources AS o ON o.id = m.parent_id"
                " WHERE m.issuer_id = ? AND m.kind = 'membership'"
                " AND json_extract(m.data, '$.member_id') LIKE 'agt!_%' ESCAPE '!' ORDER BY m.id",
                (issuer_id,),
            )
            revoked = await tx.fetch_all(
                "SELECT jti, expires_at FROM revoked_tokens WHERE issuer_id = ? AND expires_at > ?",
                (issuer_id, int(self._clock.now().timestamp())),
            )
        principals: dict[str, dict[str, Any]] = {}
        verifiers: list[tuple[str, dict[str, Any]]] = []
        for row in rows:
            data = orjson.loads(row["data"])
            if row["kind"] == "verifier":
                verifier: dict[str, Any] = {"id": row["id"], "type": data["type"]}
                if data["type"] == "secret":
                    verifier["secret_digest"] = row["secret_digest"]
                elif data.get("jwk") is not None:
                    verifier["jwk"] = data["jwk"]
                else:
                    verifier["jwks_uri"] = data.get("jwks_uri")
                verifiers.append((row["parent_id"], verifier))
            else:
                principals[row["id"]] = _principal(row["kind"], data)
        for parent_id, verifier in verifiers:
            if parent_id in principals:
                principals[parent_id]["verifiers"].append(verifier)
        for row in memberships:
            data = orjson.loads(row["data"])
            agent = principals.get(data["member_id"])
            if agent is not None:
                agent["memberships"].append(
                    {
                        "id": row["id"],
                        "organization_id": row["parent_id"],
                        "status": data.get("status", "active"),
                        "scopes": data.get("scopes") or [],
                        "organization_status": orjson.loads(row["organization"]).get(
                            "status", "active"
                        ),
                    }
                )
        return {
            "issuer_id": issuer_id,
            "account_id": issuer["account_id"],
            "version": int(version["version"]) if version else 0,
            "status": issuer["status"],
            "settings": settings,
            "keys": [
                {
                    "kid": key["kid"],
                    "alg": key["alg"],
                    "public_jwk": orjson.loads(key["public_jwk"]),
                    "sealed_key": _b64(bytes(key["sealed_key"])),
                    "activates_at": key["activates_at"],
                    "retires_at": key["retires_at"],
                    "expires_at": key["expires_at"],
                }
                for key in keys
            ],
            "principals": principals,
            "revoked": {row["jti"]: row["expires_at"] for row in revoked},
        }


def _principal(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    principal: dict[str, Any] = {
        "kind": kind,
        "status": data.get("status", "active"),
        "scopes": data.get("scopes") or [],
        "verifiers": [],
    }
    if kind == "client":
        principal["type"] = data.get("type")
        principal["grant_types"] = data.get("grant_types") or (
            ["client_credentials"] if data.get("type") == "m2m" else ["authorization_code"]
        )
        principal["access_token_lifetime"] = data.get("access_token_lifetime")
    else:
        principal["token_lifetime"] = data.get("token_lifetime")
        principal["memberships"] = []
    return principal
