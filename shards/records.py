"""The directory's records and the non-personal snapshot that every node replicates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from shards.database import Row
from shards.webhooks import Webhook


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    status: str
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> Account:
        return cls(row["id"], row["name"], row["status"], row["created_at"])


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An account API key as every node knows it: its digest, never its secret."""

    id: str
    account_id: str
    name: str
    digest: str
    scopes: tuple[str, ...]
    ip_allowlist: tuple[str, ...]
    expires_at: str | None
    status: str
    created_at: str


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A key at the moment of creation: the only time its secret exists outside the caller."""

    key: ApiKey
    secret: str

    @property
    def token(self) -> str:
        """What the caller sends: `Authorization: Bearer key_....<secret>`."""
        return f"{self.key.id}.{self.secret}"


@dataclass(frozen=True, slots=True)
class ShardRecord:
    id: str
    region: str
    file: str
    status: str
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> ShardRecord:
        return cls(row["id"], row["region"], row["file"], row["status"], row["created_at"])


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an issuer lives: its jurisdiction, home region and shard, fenced by an epoch."""

    issuer_id: str
    account_id: str
    jurisdiction: str
    home_region: str
    shard_id: str
    epoch: int
    status: str
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> Placement:
        return cls(
            row["id"],
            row["account_id"],
            row["jurisdiction"],
            row["home_region"],
            row["shard_id"],
            row["epoch"],
            row["status"],
            row["created_at"],
        )


@dataclass(frozen=True, slots=True)
class DirectorySnapshot:
    """The directory's non-personal part: enough to route, authenticate and deliver
    webhooks at any node.

    Account names are left out: a node needs only an account's status. Webhook signing
    secrets travel sealed under the key-encryption key that every node holds.
    """

    version: int
    accounts: Mapping[str, str]  # account id -> status
    api_keys: Mapping[str, ApiKey]
    shards: Mapping[str, ShardRecord]
    issuers: Mapping[str, Placement]
    webhooks: Mapping[str, Webhook] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "accounts": dict(self.accounts),
            "api_keys": [asdict(key) for key in self.api_keys.values()],
            "shards": [asdict(shard) for shard in self.shards.values()],
            "issuers": [asdict(placement) for placement in self.issuers.values()],
            "webhooks": [webhook.to_json() for webhook in self.webhooks.values()],
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> DirectorySnapshot:
        keys = [
            ApiKey(
                **{
                    **key,
                    "scopes": tuple(key["scopes"]),
                    "ip_allowlist": tuple(key["ip_allowlist"]),
                }
            )
            for key in document["api_keys"]
        ]
        return cls(
            version=int(document["version"]),
            accounts=dict(document["accounts"]),
            api_keys={key.id: key for key in keys},
            shards={s["id"]: ShardRecord(**s) for s in document["shards"]},
            issuers={p["issuer_id"]: Placement(**p) for p in document["issuers"]},
            webhooks={d["id"]: Webhook.from_json(d) for d in document.get("webhooks", ())},
        )


EMPTY_SNAPSHOT = DirectorySnapshot(version=0, accounts={}, api_keys={}, shards={}, issuers={})
