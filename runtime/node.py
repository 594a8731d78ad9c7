"""A node: one region's process, holding what every request needs.

The node owns the directory replica, the shards of its region, the directory itself when it
is the primary, and one HTTP client for node-to-node calls. `create_app` builds it; handlers
reach it through `request.app.state.node`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

import httpx
import orjson
from starlette.requests import Request

from regions import RegionError, region
from runtime.local_shards import LocalShards
from runtime.replica import (
    DirectoryReplica,
    DirectorySource,
    LocalDirectory,
    RemoteDirectory,
    ReplicaUnavailable,
)
from runtime.settings import Settings
from shards.clock import Clock
from shards.directory import Directory
from shards.errors import Conflict, NotFound, StorageUnavailable
from shards.ids import is_id
from shards.records import DirectorySnapshot, Placement, ShardRecord

log = logging.getLogger("authpi.node")

PEER_TIMEOUT: Final = 5.0
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
        self.shards = LocalShards(settings.data_dir, settings.region, clock)
        self._refresher: asyncio.Task[None] | None = None

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
        return node

    @property
    def region(self) -> str:
        return self.settings.region

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        await self.shards.close()
        if self.directory is not None:
            await self.directory.close()

    async def _on_directory_change(self, snapshot: DirectorySnapshot) -> None:
        await self.shards.sync(snapshot)

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
        self, issuer_id: str, account_id: str, jurisdiction: str, shard: ShardRecord, actor: str
    ) -> Placement:
        """Record a new issuer's placement in the directory, on the primary."""
        if self.directory is not None:
            placement = await self.directory.register_issuer(
                issuer_id, account_id, jurisdiction, shard, actor=actor
            )
        else:
            placement = await self._register_remotely(
                issuer_id, account_id, jurisdiction, shard, actor
            )
        with contextlib.suppress(ReplicaUnavailable):
            await self.replica.refresh()
        return placement

    async def _register_remotely(
        self, issuer_id: str, account_id: str, jurisdiction: str, shard: ShardRecord, actor: str
    ) -> Placement:
        primary_url = self.settings.primary_url
        assert primary_url is not None
        assert self.settings.mesh_secret is not None
        try:
            response = await self.http.post(
                f"{primary_url}/_internal/v1/issuers",
                content=orjson.dumps(
                    {
                        "issuer_id": issuer_id,
                        "account_id": account_id,
                        "jurisdiction": jurisdiction,
                        "shard_id": shard.id,
                        "actor": actor,
                    }
                ),
                headers={
                    "Authorization": f"Bearer {self.settings.mesh_secret}",
                    "Content-Type": "application/json",
                },
                timeout=PEER_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise PeerError(f"the primary region could not be reached: {exc}") from exc
        if response.status_code == 404:
            raise NotFound("account", account_id)
        if response.status_code == 409:
            raise Conflict(response.text)
        if response.status_code != 201:
            raise PeerError(f"the primary refused the registration: HTTP {response.status_code}")
        document = orjson.loads(response.content)
        return Placement(**document)
