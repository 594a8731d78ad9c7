"""The local mesh: one granian node per region on loopback, and a front proxy like Fly's.

`Mesh` is what `authpi dev` runs and what the end-to-end tests start. Each node has its own
data directory (its "volume"); the primary's holds the directory. Before the nodes start,
every configured region gets a shard if it has none, and a bootstrap API key is minted.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from regions import region
from runtime.processes import GranianProcess, free_port
from runtime.settings import encode_key
from shards.clock import SystemClock
from shards.directory import Directory
from shards.keys import local_key
from shards.records import IssuedApiKey

DEFAULT_REGIONS: Final = ("fra", "iad")
DEFAULT_PORT: Final = 8080
BOOTSTRAP_ACCOUNT: Final = "dev"
BOOTSTRAP_KEY: Final = "dev bootstrap"
NODE_TARGET: Final = "runtime.app:app_from_environ"
PROXY_TARGET: Final = "runtime.mesh.proxy:proxy_from_environ"


@dataclass(frozen=True, slots=True)
class Bootstrap:
    account_id: str
    key: IssuedApiKey


@dataclass
class Mesh:
    regions: Sequence[str]
    data_root: Path
    port: int = DEFAULT_PORT
    primary: str | None = None
    refresh_seconds: float = 1.0
    key_usage_flush_seconds: float = 60.0
    nodes: dict[str, GranianProcess] = field(default_factory=dict)
    proxy: GranianProcess | None = None

    def __post_init__(self) -> None:
        self.regions = [region(code).code for code in self.regions]
        if not self.regions:
            raise ValueError("a mesh needs at least one region")
        if len(set(self.regions)) != len(self.regions):
            raise ValueError(f"regions repeat: {', '.join(self.regions)}")
        self.primary = region(self.primary).code if self.primary else self.regions[0]
        if self.primary not in self.regions:
            raise ValueError(f"the primary region {self.primary} is not among the mesh's regions")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def data_dir(self, code: str) -> Path:
        return self.data_root / code

    def bootstrap(self) -> Bootstrap:
        """Give every region a shard, and mint a fresh bootstrap key (revoking older ones)."""
        assert self.primary is not None
        return asyncio.run(_bootstrap(self.data_dir(self.primary), self.regions))

    def start(self, base_env: Mapping[str, str]) -> None:
        ports = {code: free_port() for code in self.regions}
        secret = secrets.token_urlsafe(32)
        kek = encode_key(local_key(self.data_root))  # kept with the data, as the keys it seals
        peers = ",".join(f"{code}=http://127.0.0.1:{port}" for code, port in ports.items())
        for code in self.regions:
            self.nodes[code] = GranianProcess(
                name=f"node {code}",
                target=NODE_TARGET,
                port=ports[code],
                env={
                    "FLY_REGION": code,
                    "PRIMARY_REGION": str(self.primary),
                    "FLY_MACHINE_ID": f"{code}-1",
                    "AUTHPI_DATA_DIR": str(self.data_dir(code)),
                    "AUTHPI_PUBLIC_URL": self.url,
                    "AUTHPI_PEERS": peers,
                    "AUTHPI_MESH_SECRET": secret,
                    "AUTHPI_KEY_ENCRYPTION_KEY": kek,
                    "AUTHPI_DIRECTORY_REFRESH_SECONDS": str(self.refresh_seconds),
                    "AUTHPI_KEY_USAGE_FLUSH_SECONDS": str(self.key_usage_flush_seconds),
                    # Local receivers listen on loopback: allowed here, never by default.
                    "AUTHPI_WEBHOOKS_ALLOW_PRIVATE": "1",
                },
            )
        self.proxy = GranianProcess(
            name="mesh proxy",
            target=PROXY_TARGET,
            interface="asgi",
            port=self.port,
            ready_path="/health",  # answered through the proxy by the default entry node
            env={
                "AUTHPI_MESH_NODES": ",".join(
                    f"{code}={code}-1@{node.url}" for code, node in self.nodes.items()
                )
            },
        )
        try:
            # The primary first: the others load the directory from it as they start.
            primary = self.nodes[str(self.primary)]
            primary.start(base_env)
            primary.wait_ready()
            others = [node for code, node in self.nodes.items() if code != self.primary]
            for node in others:
                node.start(base_env)
            self.proxy.start(base_env)
            for node in [*others, self.proxy]:
                node.wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in [*([self.proxy] if self.proxy else []), *self.nodes.values()]:
            process.stop()


async def _bootstrap(primary_dir: Path, regions: Sequence[str]) -> Bootstrap:
    directory = await Directory.open(primary_dir, SystemClock())
    try:
        present = {shard.region for shard in await directory.shards()}
        for code in regions:
            if code not in present:
                await directory.register_shard(code, actor="bootstrap")
        account = next((a for a in await directory.accounts() if a.name == BOOTSTRAP_ACCOUNT), None)
        if account is None:
            account, _ = await directory.create_account(BOOTSTRAP_ACCOUNT, actor="bootstrap")
            await directory.revoke_api_keys_named(account.id, "first key", actor="bootstrap")
        await directory.revoke_api_keys_named(account.id, BOOTSTRAP_KEY, actor="bootstrap")
        key = await directory.create_api_key(account.id, BOOTSTRAP_KEY, ["*"], actor="bootstrap")
        return Bootstrap(account.id, key)
    finally:
        await directory.close()
