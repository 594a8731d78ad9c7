"""Webhook subscriptions (`wh_`) in the directory: where an account's events go.

A subscription names a URL, the exact event types it wants, optionally the issuers whose
events it wants (none: every issuer of the account, and the account's own events), and is
enabled or disabled. It holds no personal data, so it lives in the directory and reaches
every node with the replica; each node delivers the events of the shards it owns, the
primary those of the directory.

Signing secrets (`whsec_<base64>`, Standard Webhooks) are needed in clear to sign, so unlike
API keys they cannot be kept as digests: they are sealed (AES-256-GCM) under the deployment's
key-encryption key, with the subscription id as associated data. A rotation adds a new secret
and keeps the previous one signing until the end of an overlap, so a receiver can switch
secrets without missing a delivery. Every change commits with its `webhook.*` event in the
directory's outbox and moves `directory_version` (by trigger), so every node sees it.

    WebhookError        a rule refused the change; nothing was written
    └── TooManyWebhooks an account has at most `MAX_PER_ACCOUNT` subscriptions
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final

import orjson

from shards.clock import Clock, rfc3339
from shards.database import Database, Row, Transaction
from shards.errors import NotFound
from shards.ids import new_id
from shards.keys import Sealer
from shards.outbox import Outbox
from shards.resources import VersionMismatch

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES: Final = 32  # 256-bit HMAC-SHA256 keys, as Standard Webhooks recommends (24-64)
MAX_PER_ACCOUNT: Final = 50  # each one is a stream every node tails: keep the fan-out bounded
STATUSES: Final = ("enabled", "disabled")

SCHEMA: Final = (
    """
    CREATE TABLE webhooks (
        id              TEXT PRIMARY KEY,
        account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        url             TEXT NOT NULL,
        description     TEXT NOT NULL DEFAULT '',
        event_types     TEXT NOT NULL,
        issuer_ids      TEXT NOT NULL DEFAULT '[]',
        status          TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
        disabled_reason TEXT,
        sealed_secrets  BLOB NOT NULL,
        version         INTEGER NOT NULL DEFAULT 1,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX webhooks_by_account ON webhooks (account_id, id)",
    *(
        f"CREATE TRIGGER webhooks_{operation.lower()}_version AFTER {operation} ON webhooks"
        " BEGIN UPDATE directory_version SET version = version + 1; END"
        for operation in ("INSERT", "UPDATE", "DELETE")
    ),
)


class WebhookError(Exception):
    """Base class of the refusals of subscription changes."""


class TooManyWebhooks(WebhookError):
    def __init__(self, account_id: str) -> None:
        super().__init__(
            f"account {account_id} already has {MAX_PER_ACCOUNT} webhook subscriptions;"
            " delete one, or subscribe one to more event types"
        )


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def seal_context(webhook_id: str) -> str:
    return f"authpi webhook secrets {webhook_id}"


@dataclass(frozen=True, slots=True)
class SigningSecret:
    secret: str
    expires_at: str | None  # None: the current secret; else it signs until then


@dataclass(frozen=True, slots=True)
class Webhook:
    """A subscription as every node knows it: its secrets stay sealed until a delivery."""

    id: str
    account_id: str
    url: str
    description: str
    event_types: tuple[str, ...]
    issuer_ids: tuple[str, ...]
    status: str
    disabled_reason: str | None
    sealed_secrets: bytes
    version: int
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: Row) -> Webhook:
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            url=row["url"],
            description=row["description"],
            event_types=tuple(orjson.loads(row["event_types"])),
            issuer_ids=tuple(orjson.loads(row["issuer_ids"])),
            status=row["status"],
            disabled_reason=row["disabled_reason"],
            sealed_secrets=bytes(row["sealed_secrets"]),
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "url": self.url,
            "description": self.description,
            "event_types": list(self.event_types),
            "issuer_ids": list(self.issuer_ids),
            "status": self.status,
            "disabled_reason": self.disabled_reason,
            "sealed_secrets": base64.urlsafe_b64encode(self.sealed_secrets).decode(),
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Webhook:
        return cls(
            **{
                **document,
                "event_types": tuple(document["event_types"]),
                "issuer_ids": tuple(document["issuer_ids"]),
                "sealed_secrets": base64.urlsafe_b64decode(document["sealed_secrets"]),
            }
        )

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"

    def fields(self) -> dict[str, Any]:
        """What a client may change, and what events carry: never a secret."""
        return {
            "url": self.url,
            "description": self.description,
            "event_types": list(self.event_types),
            "issuer_ids": list(self.issuer_ids),
            "status": self.status,
        }

    def wants(self, event_type: str, issuer_id: str | None) -> bool:
        if event_type not in self.event_types:
            return False
        return not self.issuer_ids or issuer_id in self.issuer_ids


def open_secrets(sealer: Sealer, webhook: Webhook) -> list[SigningSecret]:
    plain = orjson.loads(sealer.open(webhook.sealed_secrets, seal_context(webhook.id)))
    return [SigningSecret(item["secret"], item["expires_at"]) for item in plain]


def signing_secrets(sealer: Sealer, webhook: Webhook, now: str) -> list[str]:
    """The secrets that sign a delivery made at `now`: the current one first."""
    return [
        s.secret
        for s in open_secrets(sealer, webhook)
        if s.expires_at is None or s.expires_at > now
    ]


def _seal(sealer: Sealer, webhook_id: str, items: Sequence[SigningSecret]) -> bytes:
    plain = [{"secret": item.secret, "expires_at": item.expires_at} for item in items]
    return sealer.seal(orjson.dumps(plain), seal_context(webhook_id))


class WebhookStore:
    """Subscriptions in the directory. The sealer is passed to the calls that seal: only
    nodes hold the key-encryption key, not every tool that opens the directory."""

    def __init__(self, database: Database, outbox: Outbox, clock: Clock) -> None:
        self._database = database
        self._outbox = outbox
        self._clock = clock

    def _now(self) -> str:
        return rfc3339(self._clock.now())

    async def insert(
        self,
        tx: Transaction,
        sealer: Sealer,
        account_id: str,
        fields: Mapping[str, Any],
        *,
        actor: str,
    ) -> tuple[Webhook, str]:
        """A new subscription and its signing secret, which exists in clear only now."""
        if await tx.fetch_one("SELECT 1 FROM accounts WHERE id = ?", (account_id,)) is None:
            raise NotFound("account", account_id)
        count = await tx.fetch_one(
            "SELECT count(*) FROM webhooks WHERE account_id = ?", (account_id,)
        )
        if count is not None and count[0] >= MAX_PER_ACCOUNT:
            raise TooManyWebhooks(account_id)
        webhook_id, secret, now = new_id("wh"), new_webhook_secret(), self._now()
        webhook = Webhook(
            id=webhook_id,
            account_id=account_id,
            url=fields["url"],
            description=fields.get("description") or "",
            event_types=tuple(fields["event_types"]),
            issuer_ids=tuple(fields.get("issuer_ids") or ()),
            status=fields.get("status") or "enabled",
            disabled_reason=None,
            sealed_secrets=_seal(sealer, webhook_id, [SigningSecret(secret, None)]),
            version=1,
            created_at=now,
            updated_at=now,
        )
        await tx.execute(
            "INSERT INTO webhooks (id, account_id, url, description, event_types, issuer_ids,"
            " status, sealed_secrets, version, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            (
                webhook.id,
                account_id,
                webhook.url,
                webhook.description,
                _json(webhook.event_types),
                _json(webhook.issuer_ids),
                webhook.status,
                webhook.sealed_secrets,
                now,
                now,
            ),
        )
        await self._emit(tx, "webhook.created", webhook, actor)
        return webhook, secret

    async def find(self, tx: Transaction | None, account_id: str, webhook_id: str) -> Webhook:
        """One subscription of this account; `NotFound` for any other."""
        row = await self._database.account_row("webhooks", account_id, webhook_id, tx)
        if row is None:
            raise NotFound("webhook", webhook_id)
        return Webhook.from_row(row)

    async def page(
        self, account_id: str, *, after: str | None, limit: int, status: str | None = None
    ) -> list[Webhook]:
        rows = await self._database.account_page(
            "webhooks", account_id, after=after, limit=limit, status=status
        )
        return [Webhook.from_row(row) for row in rows]

    async def update(
        self,
        tx: Transaction,
        webhook: Webhook,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None,
        actor: str,
        reason: str | None = None,
    ) -> Webhook:
        """Apply `changes`; nothing changes, nothing is written. A status change also emits
        `webhook.disabled` (with `reason`) or `webhook.enabled`."""
        if expected_version is not None and expected_version != webhook.version:
            raise VersionMismatch(webhook.id, expected_version, webhook.version)
        fields = webhook.fields()
        wanted = {**fields, **{k: v for k, v in changes.items() if k in fields}}
        wanted["description"] = wanted["description"] or ""
        wanted["issuer_ids"] = list(wanted["issuer_ids"] or [])
        wanted["event_types"] = list(wanted["event_types"])
        changed = sorted(name for name in fields if wanted[name] != fields[name])
        if not changed:
            return webhook
        status_changed = "status" in changed
        updated = replace(
            webhook,
            url=wanted["url"],
            description=wanted["description"],
            event_types=tuple(wanted["event_types"]),
            issuer_ids=tuple(wanted["issuer_ids"]),
            status=wanted["status"],
            disabled_reason=(
                (reason or "disabled through the API") if wanted["status"] == "disabled" else None
            )
            if status_changed
            else webhook.disabled_reason,
            updated_at=self._now(),
            version=webhook.version + 1,
        )
        await self._write(tx, webhook, updated)
        await self._emit(tx, "webhook.updated", updated, actor, changed=changed)
        if status_changed:
            event = "webhook.disabled" if updated.status == "disabled" else "webhook.enabled"
            await self._emit(tx, event, updated, actor)
        return updated

    async def disable(
        self, webhook_id: str, reason: str, *, failing_version: int, actor: str
    ) -> Webhook | None:
        """Disable a subscription whose deliveries keep failing, unless it changed since the
        version that failed (someone fixed or re-enabled it meanwhile). None when unknown."""
        async with self._database.transaction() as tx:
            row = await tx.fetch_one("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
            if row is None:
                return None
            webhook = Webhook.from_row(row)
            if webhook.version != failing_version or not webhook.enabled:
                return webhook
            return await self.update(
                tx,
                webhook,
                {"status": "disabled"},
                expected_version=None,
                actor=actor,
                reason=reason,
            )

    async def rotate_secret(
        self,
        tx: Transaction,
        sealer: Sealer,
        webhook: Webhook,
        overlap: timedelta,
        *,
        expected_version: int | None,
        actor: str,
    ) -> tuple[Webhook, str]:
        """A new current secret; the previous one keeps signing for `overlap` (zero: not at
        all), and secrets whose overlap is over are dropped."""
        if expected_version is not None and expected_version != webhook.version:
            raise VersionMismatch(webhook.id, expected_version, webhook.version)
        now = self._clock.now()
        stamp = rfc3339(now)
        until = rfc3339(now + overlap)
        kept = [
            SigningSecret(item.secret, item.expires_at or until)
            for item in open_secrets(sealer, webhook)
            if (item.expires_at or until) > stamp
        ]
        secret = new_webhook_secret()
        updated = replace(
            webhook,
            sealed_secrets=_seal(sealer, webhook.id, [SigningSecret(secret, None), *kept]),
            updated_at=stamp,
            version=webhook.version + 1,
        )
        await self._write(tx, webhook, updated)
        previous = max((item.expires_at or "" for item in kept), default=None)
        await self._outbox.record(
            tx,
            "webhook.secret_rotated",
            webhook.id,
            {"id": webhook.id, "previous_secret_expires_at": previous or None},
            actor=actor,
            account_id=webhook.account_id,
        )
        return updated, secret

    async def delete(
        self, tx: Transaction, webhook: Webhook, *, expected_version: int | None, actor: str
    ) -> None:
        if expected_version is not None and expected_version != webhook.version:
            raise VersionMismatch(webhook.id, expected_version, webhook.version)
        await tx.execute("DELETE FROM webhooks WHERE id = ?", (webhook.id,))
        await self._emit(tx, "webhook.deleted", webhook, actor)

    async def all(self) -> list[Webhook]:
        rows = await self._database.fetch_all("SELECT * FROM webhooks ORDER BY id")
        return [Webhook.from_row(row) for row in rows]

    async def _write(self, tx: Transaction, before: Webhook, after: Webhook) -> None:
        written = await tx.execute(
            "UPDATE webhooks SET url = ?, description = ?, event_types = ?, issuer_ids = ?,"
            " status = ?, disabled_reason = ?, sealed_secrets = ?, updated_at = ?,"
            " version = version + 1 WHERE id = ? AND version = ?",
            (
                after.url,
                after.description,
                _json(after.event_types),
                _json(after.issuer_ids),
                after.status,
                after.disabled_reason,
                after.sealed_secrets,
                after.updated_at,
                before.id,
                before.version,
            ),
        )
        if written != 1:
            current = await self.find(tx, before.account_id, before.id)
            raise VersionMismatch(before.id, before.version, current.version)

    async def _emit(
        self,
        tx: Transaction,
        type: str,
        webhook: Webhook,
        actor: str,
        *,
        changed: list[str] | None = None,
    ) -> None:
        data: dict[str, Any] = {"id": webhook.id, **webhook.fields()}
        if type == "webhook.disabled":
            data["reason"] = webhook.disabled_reason
        if changed is not None:
            data["changed"] = changed
        await self._outbox.record(
            tx, type, webhook.id, data, actor=actor, account_id=webhook.account_id
        )


def previous_secret_expires_at(sealer: Sealer, webhook: Webhook, now: str) -> str | None:
    """When the last secret still overlapping the current one stops signing, if any."""
    ends = [
        s.expires_at
        for s in open_secrets(sealer, webhook)
        if s.expires_at is not None and s.expires_at > now
    ]
    return max(ends, default=None)


def _json(values: Sequence[str]) -> str:
    return orjson.dumps(list(values)).decode()
