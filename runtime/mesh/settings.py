"""The local mesh proxy's settings, read once from the environment and validated eagerly.

`AUTHPI_MESH_NODES` lists the nodes, comma-separated, each as `region=instance@url`:

    fra=fra-1@http://127.0.0.1:8101,iad=iad-1@http://127.0.0.1:8102

The first node listed is where requests enter when the client gives no location.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

NODES_VARIABLE: Final = "AUTHPI_MESH_NODES"

# Fly's proxy gives up on a replay chain after a handful of hops; five lets a request go
# entry -> edge -> home with room to spare, and still stops a replay loop within milliseconds.
MAX_REPLAYS: Final = 5
# Fly documents that requests larger than 1 MB cannot be replayed; the proxy enforces the same.
FLY_REPLAY_BODY_LIMIT: Final = 1024 * 1024
# Every request body is held in memory (it may have to be replayed); beyond this it is refused.
MAX_BODY_BYTES: Final = 10 * 1024 * 1024
# Long enough for a home-region write on a slow laptop, short enough that a hung node shows up.
UPSTREAM_TIMEOUT_SECONDS: Final = 30.0

_REGION_CODE = re.compile(r"[a-z]{3}")
_NODE_FORM = "region=instance@url, e.g. fra=fra-1@http://127.0.0.1:8101"


class MeshConfigError(ValueError):
    """The mesh configuration is missing or malformed; the message says what to fix."""


@dataclass(frozen=True)
class MeshNode:
    """One node of the mesh: the region it serves, its instance id, and where it listens."""

    region: str
    instance: str
    url: str


@dataclass(frozen=True)
class ProxySettings:
    nodes: tuple[MeshNode, ...]
    max_replays: int = MAX_REPLAYS
    max_replay_body_bytes: int = FLY_REPLAY_BODY_LIMIT
    max_body_bytes: int = MAX_BODY_BYTES
    upstream_timeout_seconds: float = UPSTREAM_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not self.nodes:
            raise MeshConfigError("the mesh needs at least one node")
        if self.max_replays < 0:
            raise MeshConfigError(f"max_replays must be 0 or more, not {self.max_replays}")
        for name in ("max_replay_body_bytes", "max_body_bytes", "upstream_timeout_seconds"):
            if getattr(self, name) <= 0:
                raise MeshConfigError(f"{name} must be positive, not {getattr(self, name)}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ProxySettings:
        return cls(nodes=parse_mesh_nodes(environ.get(NODES_VARIABLE, "")))

    @property
    def regions(self) -> tuple[str, ...]:
        """The regions that have a node, each once, in the order they were configured."""
        return tuple(dict.fromkeys(node.region for node in self.nodes))


def parse_mesh_nodes(value: str) -> tuple[MeshNode, ...]:
    """The nodes listed in an `AUTHPI_MESH_NODES` value; else `MeshConfigError`."""
    entries = [entry.strip() for entry in value.split(",")]
    if not any(entries):
        raise MeshConfigError(f"{NODES_VARIABLE} is not set: list the nodes as {_NODE_FORM}")
    nodes = tuple(_parse_node(entry) for entry in entries)
    _check_unique(nodes, "instance", lambda node: node.instance)
    _check_unique(nodes, "url", lambda node: node.url)
    return nodes


def _parse_node(entry: str) -> MeshNode:
    region, equals, rest = entry.partition("=")
    instance, at, url = rest.partition("@")
    region, instance, url = region.strip(), instance.strip(), url.strip().rstrip("/")
    if not (equals and at and region and instance and url):
        raise MeshConfigError(f"{NODES_VARIABLE} entry {entry!r} is not of the form {_NODE_FORM}")
    if not _REGION_CODE.fullmatch(region):
        raise MeshConfigError(
            f"{NODES_VARIABLE} entry {entry!r}: region {region!r} is not a three-letter "
            "lowercase Fly.io region code"
        )
    if not _is_base_url(url):
        raise MeshConfigError(
            f"{NODES_VARIABLE} entry {entry!r}: url {url!r} is not of the form "
            "http(s)://host[:port], with no path, query or fragment"
        )
    return MeshNode(region=region, instance=instance, url=url)


def _is_base_url(url: str) -> bool:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - reading the port validates it ("host:abc" raises)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment)
    )


def _check_unique(nodes: tuple[MeshNode, ...], what: str, key: Callable[[MeshNode], str]) -> None:
    seen: set[str] = set()
    for node in nodes:
        value = key(node)
        if value in seen:
            raise MeshConfigError(f"{NODES_VARIABLE} lists the {what} {value!r} more than once")
        seen.add(value)
