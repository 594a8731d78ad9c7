"""Node settings: read from the environment once, validated eagerly, passed down.

FLY_REGION            this node's region (Fly sets it)                    required
PRIMARY_REGION        the region that homes the directory                 default: FLY_REGION
FLY_MACHINE_ID        this node's instance id (Fly sets it)               default: <region>-1
AUTHPI_DATA_DIR       the node's volume: the directory and its shards     default: ./data
AUTHPI_PUBLIC_URL     the URL clients use; issuer URLs are built on it    default: http://127.0.0.1:8080
AUTHPI_PEERS          other regions' node addresses, `iad=http://...,fra=http://...`
AUTHPI_MESH_SECRET    shared secret of node-to-node calls; required with peers
AUTHPI_DIRECTORY_REFRESH_SECONDS  how often a node pulls the directory    default: 2
AUTHPI_KEY_ENCRYPTION_KEY  32 bytes, base64url: seals issuers' private signing keys at rest;
                      the same on every node; required with peers. A single node without it
                      generates one into its data directory on first start.
AUTHPI_KEY_USAGE_FLUSH_SECONDS    how often a node reports API key use    default: 60
AUTHPI_REPLICA_URL    where Litestream replicates this node's databases: file:///path,
                      s3://bucket/path, gs://, abs://, sftp:// or webdav://; storage in
                      this region's jurisdiction (runtime/replication.py). Needs
                      AUTHPI_KEY_ENCRYPTION_KEY.                          default: none
AUTHPI_WEBHOOKS_ALLOW_PRIVATE  1: webhooks may go to private, loopback and link-local
                      addresses, and over plain http (local development and tests only;
                      elsewhere a subscription to such an address could reach internal
                      services: SSRF)                                       default: 0
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from regions import RegionError, region

DEFAULT_PUBLIC_URL: Final = "http://127.0.0.1:8080"
DEFAULT_DATA_DIR: Final = "data"
# Bounds how stale a node's copy of placement and API keys can be; a miss refreshes at once.
DEFAULT_DIRECTORY_REFRESH_SECONDS: Final = 2.0
# `last_used_at` of account keys is accurate to about this; it costs the directory at most one
# write per key per interval, however busy the key.
DEFAULT_KEY_USAGE_FLUSH_SECONDS: Final = 60.0
MIN_MESH_SECRET_LENGTH: Final = 32  # at least 192 bits when generated as URL-safe base64
REPLICA_SCHEMES: Final = ("file", "s3", "gs", "abs", "sftp", "webdav")  # Litestream's


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable and the fix."""


@dataclass(frozen=True, slots=True)
class Settings:
    region: str
    primary_region: str
    instance: str
    data_dir: Path
    public_url: str
    peers: Mapping[str, str] = field(default_factory=dict)
    mesh_secret: str | None = None
    directory_refresh_seconds: float = DEFAULT_DIRECTORY_REFRESH_SECONDS
    key_encryption_key: bytes | None = field(default=None, repr=False)
    key_usage_flush_seconds: float = DEFAULT_KEY_USAGE_FLUSH_SECONDS
    webhooks_allow_private: bool = False
    replica_url: str | None = None

    @property
    def is_primary(self) -> bool:
        return self.region == self.primary_region

    @property
    def primary_url(self) -> str | None:
        """Where the directory's primary node answers, or None on the primary itself."""
        return None if self.is_primary else self.peers[self.primary_region]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        own = _region(environ, "FLY_REGION", None)
        primary = _region(environ, "PRIMARY_REGION", own)
        peers = _peers(environ.get("AUTHPI_PEERS", ""))
        peers.pop(own, None)
        if primary != own and primary not in peers:
            raise SettingsError(
                f"PRIMARY_REGION is {primary!r} but AUTHPI_PEERS has no address for it;"
                f" add {primary}=http://... to AUTHPI_PEERS"
            )
        secret = environ.get("AUTHPI_MESH_SECRET") or None
        if peers and secret is None:
            raise SettingsError("AUTHPI_MESH_SECRET is required when AUTHPI_PEERS is set")
        if secret is not None and len(secret) < MIN_MESH_SECRET_LENGTH:
            raise SettingsError(
                f"AUTHPI_MESH_SECRET must be at least {MIN_MESH_SECRET_LENGTH} characters"
            )
        kek = key_encryption_key(environ.get("AUTHPI_KEY_ENCRYPTION_KEY"))
        if peers and kek is None:
            raise SettingsError(
                "AUTHPI_KEY_ENCRYPTION_KEY is required when AUTHPI_PEERS is set: every node"
                " opens the same sealed signing keys"
            )
        replica = replica_url(environ.get("AUTHPI_REPLICA_URL"))
        if replica is not None and kek is None:
            raise SettingsError(
                "AUTHPI_KEY_ENCRYPTION_KEY is required when AUTHPI_REPLICA_URL is set: a"
                " restored node needs the key that sealed its signing keys, and a generated one"
                " lives in the data directory a restore replaces"
            )
        return cls(
            region=own,
            primary_region=primary,
            instance=environ.get("FLY_MACHINE_ID") or f"{own}-1",
            data_dir=Path(environ.get("AUTHPI_DATA_DIR") or DEFAULT_DATA_DIR),
            public_url=_url("AUTHPI_PUBLIC_URL", environ.get("AUTHPI_PUBLIC_URL"))
            or DEFAULT_PUBLIC_URL,
            peers=peers,
            mesh_secret=secret,
            directory_refresh_seconds=_positive(
                environ, "AUTHPI_DIRECTORY_REFRESH_SECONDS", DEFAULT_DIRECTORY_REFRESH_SECONDS
            ),
            key_encryption_key=kek,
            key_usage_flush_seconds=_positive(
                environ, "AUTHPI_KEY_USAGE_FLUSH_SECONDS", DEFAULT_KEY_USAGE_FLUSH_SECONDS
            ),
            webhooks_allow_private=_flag(environ, "AUTHPI_WEBHOOKS_ALLOW_PRIVATE"),
            replica_url=replica,
        )


def replica_url(value: str | None) -> str | None:
    """AUTHPI_REPLICA_URL checked: None when unset."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme == "file":  # file:///absolute/path: no host, an absolute path
        usable = not parts.netloc and parts.path.startswith("/")
    else:
        usable = bool(parts.netloc)
    if parts.scheme not in REPLICA_SCHEMES or not usable or parts.query or parts.fragment:
        raise SettingsError(
            f"AUTHPI_REPLICA_URL must be a Litestream replica URL ({', '.join(REPLICA_SCHEMES)};"
            f" file:///absolute/path or s3://bucket/path), got {value!r}"
        )
    return value.rstrip("/")


def _region(environ: Mapping[str, str], name: str, default: str | None) -> str:
    value = environ.get(name) or default
    if value is None:
        raise SettingsError(f"{name} is required: the Fly region code of this node, e.g. fra")
    try:
        return region(value).code
    except RegionError as exc:
        raise SettingsError(f"{name}: {exc}") from exc


def _url(name: str, value: str | None) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise SettingsError(f"{name} must be an http(s) URL without a query, got {value!r}")
    return value.rstrip("/")


def _peers(value: str) -> dict[str, str]:
    peers: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        code, sep, url = item.partition("=")
        if not sep:
            raise SettingsError(f"AUTHPI_PEERS entry {item!r} must be region=url")
        try:
            code = region(code).code
        except RegionError as exc:
            raise SettingsError(f"AUTHPI_PEERS: {exc}") from exc
        peers[code] = _url("AUTHPI_PEERS", url.strip()) or ""
    return peers


def _positive(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip()
    if raw in ("", "0"):
        return False
    if raw == "1":
        return True
    raise SettingsError(f"{name} must be 1 or 0, got {raw!r}")


KEK_BYTES: Final = 32


def key_encryption_key(value: str | None) -> bytes | None:
    """AUTHPI_KEY_ENCRYPTION_KEY decoded, or None when unset."""
    if not value:
        return None
    try:
        key = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEK_BYTES:
        raise SettingsError(
            f"AUTHPI_KEY_ENCRYPTION_KEY must be {KEK_BYTES} random bytes in base64url;"
            " generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return key


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()
