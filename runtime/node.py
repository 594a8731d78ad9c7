"""A node: one region's process, holding what every request needs.

The node owns the directory replica, the shards of its region, the directory itself when it
is the primary, and one HTTP client for node-to-node calls. `create_app` builds it; handlers
reach it through `request.app.state.node`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final

import httpx
import orjson
from starlette.requests import Request

from regions import RegionError, region
from runtime.background import stop_task
from runtime.edge import EdgeCache
from runtime.local_shards import LocalShards
from runtime.replica import (
    DirectoryReplica,
    DirectorySource,
    LocalDirectory,
    RemoteDirectory,
    ReplicaUnavailable,
)
from runtime.replication import Replicator
from runtime.settings import Settings
from runtime.webhooks.service import WebhookService
from shards.clock import Clock, rfc3339
from shards.directory import Directory
from shards.errors import Conflict, NotFound, StorageUnavailable
from shards.idempotency import IdempotentCreate, KeyTaken, StoredResponse
from shards.ids import is_id
from shards.issuers import IssuerConfig
from shards.keys import Sealer, local_key
from shards.outbox import SYSTEM_ACTOR
from shards.records import DirectorySnapshot, Placement, ShardRecord
from shards.webhooks import Webhook

log = logging.getLogger("authpi.node")

PEER_TIMEOUT: Final = 5.0
USAGE_BATCH: Final = 500  # keys per call to the primary: well under the body limit
STARTUP_RETRY_SECONDS: Final = 0.2


class PeerError(Exception):
    """A node-to-node call failed or was refused."""


class Node:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        http: httpx.AsyncClient,
        directory: Directory | None,
        replica: DirectoryReplica,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.http = http
        self.directory = directory
        self.replica = replica
        self.sealer = Sealer(settings.key_encryption_key or local_key(settings.data_dir))
        self.shards = LocalShards(settings.data_dir, settings.region, clock, self.sealer)
        self._refresher: asyncio.Task[None] | None = None
        self.edge = EdgeCache(self)
        self._flusher: asyncio.Task[None] | None = None
        self._key_usage: dict[str, datetime] = {}
        self.webhooks = WebhookService(self, self.disable_webhook)
        self.replicator: Replicator | None = None

    @classmethod
    async def open(cls, settings: Settings, clock: Clock, http: httpx.AsyncClient) -> Node:
        """Open the directory (on the primary), load the replica, open this region's shards."""
        directory: Directory | None = None
        source: DirectorySource
        if settings.primary_url is None:
            directory = await Directory.open(settings.data_dir, clock)
            source = LocalDirectory(directory)
        else:
            assert settings.mesh_secret is not None  # Settings requires it with peers
            source = RemoteDirectory(http, settings.primary_url, settings.mesh_secret)
        node = cls(settings, clock, http, directory, DirectoryReplica(source))
        node.replica.on_change(node._on_directory_change)
        with contextlib.suppress(ReplicaUnavailable):
            await node.replica.refresh()
        node._refresher = asyncio.create_task(node._refresh_forever())
        node.edge.start()
        node._flusher = asyncio.create_task(node._flush_usage_forever())
        node.webhooks.start()
        if settings.replica_url is not None:
            node.replicator = Replicator(
                settings.data_dir, settings.replica_url, directory=settings.is_primary
            )
            await node.replicator.start()
        return node

    @property
    def region(self) -> str:
        return self.settings.region

    async def stop(self) -> None:
        await self.webhooks.stop()
        await self.edge.stop()
        for task in (self._refresher, self._flusher):
            await stop_task(task)
        await self.flush_key_usage()
        await self.shards.close()
        if self.directory is not None:
            await self.directory.close()
        if self.replicator is not None:  # last: it ships what the closing left in the WAL
            await self.replicator.stop()

    async def _on_directory_change(self, snapshot: DirectorySnapshot) -> None:
        await self.shards.sync(snapshot)
        self.webhooks.sync()

    async def _refresh_forever(self) -> None:
        while True:
            interval = (
                self.settings.directory_refresh_seconds
                if self.replica.loaded
                else STARTUP_RETRY_SECONDS
            )
            await asyncio.sleep(interval)
            try:
                await self.replica.refresh()
            except (ReplicaUnavailable, StorageUnavailable) as exc:
                log.warning("directory refresh failed: %s", exc)

    # facts about the request, as the platform's proxy reports them

    def entry_region(self, request: Request) -> str:
        """The region the request entered at (`Fly-Region`), or this node's own."""
        try:
            return region(request.headers.get("fly-region", "")).code
        except RegionError:
            return self.region

    def client_ip(self, request: Request) -> str | None:
        reported = request.headers.get("fly-client-ip")
        if reported:
            return reported
        return request.client.host if request.client else None

    # placement, known to every node through the replica

    async def placement(self, issuer_id: str) -> Placement | None:
        """Where the issuer lives; None if it does not exist. Only a well-formed id that this
        replica does not know yet is worth a pull from the primary."""
        placement = self.replica.snapshot.issuers.get(issuer_id)
        if placement is None and is_id(issuer_id, "i") and await self.replica.refresh_on_miss():
            placement = self.replica.snapshot.issuers.get(issuer_id)
        return placement

    async def register_issuer(
        self,
        issuer_id: str,
        account_id: str,
        name: str,
        jurisdiction: str,
        shard: ShardRecord,
        actor: str,
        created_at: str,
        idempotent: IdempotentCreate | None = None,
    ) -> Placement:
        """Record a new issuer's placement in the directory, on the primary."""
        if self.directory is not None:
            placement = await self.directory.register_issuer(
                issuer_id,
                account_id,
                jurisdiction,
                shard,
                name=name,
                created_at=created_at,
                actor=actor,
                idempotent=idempotent,
            )
        else:
            body: dict[str, Any] = {
                "issuer_id": issuer_id,
                "account_id": account_id,
                "name": name,
                "jurisdiction": jurisdiction,
                "shard_id": shard.id,
                "actor": actor,
                "created_at": created_at,
            }
            if idempotent is not None:
                body["idempotency"] = {
                    "scope": idempotent.scope,
                    "key": idempotent.key,
                    "response": idempotent.response.to_json(),
                }
            response = await self._call_primary("POST", "/_internal/v1/issuers", body)
            if response.status_code == 404:
                raise NotFound("account", account_id)
            if response.status_code == 409:
                taken = orjson.loads(response.content).get("stored")
                if taken is not None:
                    raise KeyTaken(StoredResponse.from_json(taken))
                raise Conflict(response.text)
            if response.status_code != 201:
                raise PeerError(
                    f"the primary refused the registration: HTTP {response.status_code}"
                )
            placement = Placement(**orjson.loads(response.content))
        await self.refresh_replica()
        return placement

    async def stored_response(self, scope: str, key: str) -> StoredResponse | None:
        """The response stored in the directory for an account-level idempotency key."""
        if self.directory is not None:
            return await self.directory.stored_response(scope, key)
        response = await self._call_primary(
            "POST", "/_internal/v1/idempotency", {"scope": scope, "key": key}
        )
        if response.status_code != 200:
            raise PeerError(f"the primary refused the lookup: HTTP {response.status_code}")
        stored = orjson.loads(response.content).get("stored")
        return None if stored is None else StoredResponse.from_json(stored)

    async def list_issuer(self, issuer: IssuerConfig) -> None:
        """Mirror an issuer's name, status and settings in the directory, on the primary;
        `NotFound` when the directory no longer places it."""
        if self.directory is not None:
            listed = await self.directory.list_issuer(issuer)
        else:
            path = f"/_internal/v1/issuers/{issuer.id}"
            response = await self._call_primary("PUT", path, asdict(issuer))
            if response.status_code not in (204, 404):
                raise PeerError(f"the primary refused the listing: HTTP {response.status_code}")
            listed = response.status_code == 204
        if not listed:
            raise NotFound("issuer", issuer.id)

    async def remove_issuer(self, issuer_id: str, actor: str) -> None:
        """Take an issuer out of the directory's placement, on the primary."""
        if self.directory is not None:
            await self.directory.remove_issuer(issuer_id, actor=actor)
            return
        path = f"/_internal/v1/issuers/{issuer_id}/delete"
        response = await self._call_primary("POST", path, {"actor": actor})
        if response.status_code == 404:
            raise NotFound("issuer", issuer_id)
        if response.status_code != 204:
            raise PeerError(f"the primary refused the removal: HTTP {response.status_code}")

    async def disable_webhook(self, webhook: Webhook, reason: str) -> bool:
        """Disable a subscription whose deliveries keep failing, in the directory (on the
        primary); False when the primary could not be told (the caller asks again later)."""
        try:
            if self.directory is not None:
                await self.directory.webhooks.disable(
                    webhook.id, reason, failing_version=webhook.version, actor=SYSTEM_ACTOR
                )
            else:
                path = f"/_internal/v1/webhooks/{webhook.id}/disable"
                body = {"reason": reason, "version": webhook.version}
                response = await self._call_primary("POST", path, body)
                if response.status_code not in (204, 404):
                    raise PeerError(f"the primary refused to disable: HTTP {response.status_code}")
        except (PeerError, StorageUnavailable) as exc:
            log.warning("webhook %s not disabled yet: %s", webhook.id, exc)
            return False
        await self.refresh_replica()
        return True

    async def refresh_replica(self) -> None:
        """Pull the directory now, after a change this node asked for; a failure leaves the
        timer to catch up."""
        with contextlib.suppress(ReplicaUnavailable, StorageUnavailable):
            await self.replica.refresh()

    # account API keys: when each was last used, batched

    def key_used(self, key_id: str) -> None:
        """Note that a key authenticated a request: memory only, flushed on a timer
        (`key_usage_flush_seconds`, a minute by default)."""
        self._key_usage[key_id] = self.clock.now()

    async def flush_key_usage(self) -> None:
        """Hand the noted key uses to the directory (on the primary); kept for the next flush
        if the primary cannot be reached."""
        usage, self._key_usage = self._key_usage, {}
        if not usage:
            return
        try:
            if self.directory is not None:
                await self.directory.keys.record_usage(usage)
                return
            items = sorted(usage.items())
            for start in range(0, len(items), USAGE_BATCH):
                batch = {key: rfc3339(seen) for key, seen in items[start : start + USAGE_BATCH]}
                response = await self._call_primary(
                    "POST", "/_internal/v1/api_keys/usage", {"usage": batch}
                )
                if response.status_code != 204:
                    raise PeerError(f"the primary refused key usage: HTTP {response.status_code}")
        except (PeerError, StorageUnavailable) as exc:
            log.warning("key usage not recorded, kept for the next flush: %s", exc)
            for key, seen in usage.items():
                self._key_usage.setdefault(key, seen)

    async def _flush_usage_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.key_usage_flush_seconds)
            await self.flush_key_usage()

    async def _call_primary(
        self, method: str, path: str, body: Mapping[str, Any]
    ) -> httpx.Response:
        primary_url = self.settings.primary_url
        assert primary_url is not None
        assert self.settings.mesh_secret is not None
        try:
            return await self.http.request(
                method,
                f"{primary_url}{path}",
                content=orjson.dumps(body),
                headers={
                    "Authorization": f"Bearer {self.settings.mesh_secret}",
                    "Content-Type": "application/json",
                },
                timeout=PEER_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise PeerError(f"the primary region could not be reached: {exc}") from exc
