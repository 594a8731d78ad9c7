"""Account API keys in the directory: create, read, change, revoke, and record their use.

Every change advances the key's version (its ETag) and writes its event to the directory's
outbox in the same transaction. Changes to what authenticates (status, scopes, allowlist,
expiry) also move `directory_version` by trigger, so every node's replica picks them up.

    AccountKeyError     a rule refused the change; nothing was written
    ├── KeyRevoked      a revoked key stays revoked and cannot be changed
    └── LockedOut       the account would be left without an active key that manages keys

`last_used_at` is informational: nodes batch the times they saw each key and hand them
over at most once a minute (`record_usage`); it never moves the version, so it never makes
an `If-Match` stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

import orjson

from shards.clock import Clock, rfc3339
from shards.database import Database, Row, Transaction
from shards.errors import NotFound
from shards.ids import new_id
from shards.outbox import Outbox
from shards.records import ApiKey, IssuedApiKey
from shards.resources import VersionMismatch
from shards.secrets import digest, new_secret

MANAGE_SCOPES: Final = frozenset({"*", "api_keys:write"})
USAGE_RESOLUTION: Final = timedelta(minutes=1)  # at most one usage write per key per minute
_CHANGEABLE: Final = ("name", "scopes", "ip_allowlist", "expires_at", "status")


class AccountKeyError(Exception):
    """Base class of the refusals of account key changes."""


class KeyRevoked(AccountKeyError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {key_id} is revoked; a revoked key stays revoked")


class LockedOut(AccountKeyError):
    def __init__(self, account_id: str) -> None:
        super().__init__(
            f"this would leave account {account_id} without an active API key that can manage"
            " API keys (`*` or `api_keys:write`); create one first"
        )


@dataclass(frozen=True, slots=True)
class AccountKey:
    """An account API key as the Core API shows it: never its secret or digest."""

    id: str
    account_id: str
    name: str
    scopes: tuple[str, ...]
    ip_allowlist: tuple[str, ...]
    expires_at: str | None
    status: str
    created_at: str
    updated_at: str
    last_used_at: str | None
    version: int

    @classmethod
    def from_row(cls, row: Row) -> AccountKey:
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            name=row["name"],
            scopes=tuple(orjson.loads(row["scopes"])),
            ip_allowlist=tuple(orjson.loads(row["ip_allowlist"])),
            expires_at=row["expires_at"],
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            last_used_at=row["last_used_at"],
            version=row["version"],
        )

    def fields(self) -> dict[str, Any]:
        """What a client may change, and what events carry."""
        return {
            "name": self.name,
            "scopes": list(self.scopes),
            "ip_allowlist": list(self.ip_allowlist),
            "expires_at": self.expires_at,
            "status": self.status,
        }

    def can_manage_keys(self, now: str) -> bool:
        return (
            self.status == "active"
            and (self.expires_at is None or self.expires_at > now)
            and bool(MANAGE_SCOPES & set(self.scopes))
        )


class AccountKeyStore:
    def __init__(self, database: Database, outbox: Outbox, clock: Clock) -> None:
        self._database = database
        self._outbox = outbox
        self._clock = clock

    def _now(self) -> str:
        return rfc3339(self._clock.now())

    async def insert(
        self,
        tx: Transaction,
        account_id: str,
        name: str,
        scopes: Iterable[str],
        *,
        ip_allowlist: Iterable[str] = (),
        expires_at: str | None = None,
        actor: str,
    ) -> tuple[AccountKey, IssuedApiKey]:
        """A new active key; `NotFound` if the account does not exist."""
        if await tx.fetch_one("SELECT 1 FROM accounts WHERE id = ?", (account_id,)) is None:
            raise NotFound("account", account_id)
        secret, now = new_secret(), self._now()
        key = AccountKey(
            new_id("key"),
            account_id,
            name,
            tuple(scopes),
            tuple(ip_allowlist),
            expires_at,
            "active",
            now,
            now,
            None,
            1,
        )
        await tx.execute(
            "INSERT INTO api_keys (id, account_id, name, digest, scopes, ip_allowlist,"
            " expires_at, status, created_at, updated_at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (
                key.id,
                account_id,
                name,
                digest(secret),
                _json(key.scopes),
                _json(key.ip_allowlist),
                expires_at,
                key.status,
                now,
                now,
            ),
        )
        await self._emit(tx, "api_key.created", key, actor)
        issued = ApiKey(
            key.id,
            account_id,
            name,
            digest(secret),
            key.scopes,
            key.ip_allowlist,
            expires_at,
            key.status,
            now,
        )
        return key, IssuedApiKey(issued, secret)

    async def find(self, tx: Transaction | None, account_id: str, key_id: str) -> AccountKey:
        """One key of this account; `NotFound` for any other."""
        row = await self._database.account_row("api_keys", account_id, key_id, tx)
        if row is None:
            raise NotFound("api key", key_id)
        return AccountKey.from_row(row)

    async def page(
        self, account_id: str, *, after: str | None, limit: int, status: str | None = None
    ) -> list[AccountKey]:
        """A page in id (creation) order, after the id `after`."""
        rows = await self._database.account_page(
            "api_keys", account_id, after=after, limit=limit, status=status
        )
        return [AccountKey.from_row(row) for row in rows]

    async def update(
        self,
        tx: Transaction,
        key: AccountKey,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None,
        actor: str,
        announce: bool = True,
    ) -> AccountKey:
        """Apply `changes` (a null `expires_at` removes the expiry); nothing changes, nothing
        is written. `announce=False` emits only `api_key.revoked` (a plain revocation)."""
        if expected_version is not None and expected_version != key.version:
            raise VersionMismatch(key.id, expected_version, key.version)
        fields = key.fields()
        wanted = {**fields, **{k: v for k, v in changes.items() if k in _CHANGEABLE}}
        wanted["scopes"], wanted["ip_allowlist"] = (
            list(wanted["scopes"]),
            list(wanted["ip_allowlist"]),
        )
        changed = sorted(name for name in _CHANGEABLE if wanted[name] != fields[name])
        if not changed:
            return key
        if key.status == "revoked":
            raise KeyRevoked(key.id)
        now = self._now()
        updated = replace(
            key,
            name=wanted["name"],
            scopes=tuple(wanted["scopes"]),
            ip_allowlist=tuple(wanted["ip_allowlist"]),
            expires_at=wanted["expires_at"],
            status=wanted["status"],
            updated_at=now,
            version=key.version + 1,
        )
        await self._check_not_locked_out(tx, key, updated)
        written = await tx.execute(
            "UPDATE api_keys SET name = ?, scopes = ?, ip_allowlist = ?, expires_at = ?,"
            " status = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?",
            (
                updated.name,
                _json(updated.scopes),
                _json(updated.ip_allowlist),
                updated.expires_at,
                updated.status,
                now,
                key.id,
                key.version,
            ),
        )
        if written != 1:
            current = await self.find(tx, key.account_id, key.id)
            raise VersionMismatch(key.id, key.version, current.version)
        if announce:
            await self._emit(tx, "api_key.updated", updated, actor, changed=changed)
        if "status" in changed:
            await self._emit(tx, "api_key.revoked", updated, actor)
        return updated

    async def revoke(
        self, tx: Transaction, key: AccountKey, *, expected_version: int | None, actor: str
    ) -> AccountKey:
        """Revoke a key; revoking a revoked key changes nothing."""
        return await self.update(
            tx,
            key,
            {"status": "revoked"},
            expected_version=expected_version,
            actor=actor,
            announce=False,
        )

    async def record_usage(self, usage: Mapping[str, datetime]) -> int:
        """Note when keys were last seen, in one transaction; return how many rows moved.

        A key's `last_used_at` moves only when the new time is a full `USAGE_RESOLUTION`
        past the stored one, so however many nodes report a busy key, its row is written at
        most once a minute.
        """
        if not usage:
            return 0
        moved = 0
        async with self._database.transaction() as tx:
            for key_id, seen in sorted(usage.items()):
                moved += await tx.execute(
                    "UPDATE api_keys SET last_used_at = ? WHERE id = ?"
                    " AND (last_used_at IS NULL OR last_used_at <= ?)",
                    (rfc3339(seen), key_id, rfc3339(seen - USAGE_RESOLUTION)),
                )
        return moved

    async def _check_not_locked_out(
        self, tx: Transaction, before: AccountKey, changed: AccountKey
    ) -> None:
        """Refuse a change that leaves the account no active key able to manage keys: without
        one, only an operator on the primary's machine could mint a new key."""
        now = self._now()
        if not before.can_manage_keys(now) or changed.can_manage_keys(now):
            return
        rows = await tx.fetch_all(
            "SELECT * FROM api_keys WHERE account_id = ? AND id != ? AND status = 'active'",
            (changed.account_id, changed.id),
        )
        if not any(AccountKey.from_row(row).can_manage_keys(now) for row in rows):
            raise LockedOut(changed.account_id)

    async def _emit(
        self,
        tx: Transaction,
        type: str,
        key: AccountKey,
        actor: str,
        *,
        changed: list[str] | None = None,
    ) -> None:
        data: dict[str, Any] = {"id": key.id, "account_id": key.account_id, **key.fields()}
        if changed is not None:
            data["changed"] = changed
        await self._outbox.record(tx, type, key.id, data, actor=actor, account_id=key.account_id)


def _json(values: Iterable[str]) -> str:
    return orjson.dumps(list(values)).decode()
