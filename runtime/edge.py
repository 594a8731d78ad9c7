"""Edge snapshots: each node's in-memory copy of what an issuer's edge work needs.

Token, JWKS and introspection calls are answered by whichever node they reach, from an
`IssuerEdge` held in memory: the issuer's settings, its signing keys (opened from their
sealed form), its clients and agents with their verifiers and the organizations agents
belong to, and the revocation set. No personal data is in it (see `shards.edge`).

Freshness. The home node watches its shards' edge versions every `WATCH_SECONDS` and pushes
the changes to every peer, which refetch what they hold with a conditional request. A node
also revalidates everything it holds with each home every `POLL_SECONDS`, in case a push was
lost. An unknown `kid` or client id refetches at once, single-flight per issuer and at most
once per `MISS_INTERVAL`. So a change reaches every node within `shards.keys.EDGE_STALENESS`
seconds (a poll interval plus a fetch timeout) and usually within a fraction of a second.
A node that cannot revalidate a snapshot for `STALE_LIMIT` stops using it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import httpx
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from shards.errors import StorageError
from shards.keys import EDGE_STALENESS, Sealer, import_jwk, seal_context

if TYPE_CHECKING:
    from runtime.node import Node
    from shards.shard import Shard

log = logging.getLogger("authpi.edge")

WATCH_SECONDS: Final = 0.25
# The least time between two looks at local shards: under a burst of writes, one query per
# gap instead of one per commit; a change reaches the peers at most this much later.
WATCH_GAP_SECONDS: Final = 0.05
FORCE_EVERY: Final = 4  # watch rounds between checks made without a local commit
POLL_SECONDS: Final = 5.0
FETCH_TIMEOUT: Final = 4.0
MISS_INTERVAL: Final = 1.0
STALE_LIMIT: Final = 600.0
assert POLL_SECONDS + FETCH_TIMEOUT + MISS_INTERVAL <= EDGE_STALENESS

_ES256: Final = ec.ECDSA(hashes.SHA256())
_SHA256: Final = hashes.SHA256()
_PKCS1: Final = padding.PKCS1v15()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


def json_segment(segment: str) -> dict[str, Any] | None:
    """A compact JWS segment decoded as a JSON object; None if it is not one."""
    try:
        value = orjson.loads(b64url_decode(segment))
    except (binascii.Error, ValueError):
        return None
    return value if isinstance(value, dict) else None


class EdgeUnavailable(Exception):
    """The issuer's snapshot could not be fetched, or is too old to trust."""


class KeyMaterial:
    """One published key: verifies always, signs when it has the private half."""

    __slots__ = ("_private", "_public", "activates", "alg", "expires", "kid", "retires")

    def __init__(self, entry: Mapping[str, Any], private_jwk: Mapping[str, Any] | None) -> None:
        self.kid: str = entry["kid"]
        self.alg: str = entry["alg"]
        # instants as POSIX seconds: compared on every request, so no parsing there
        self.activates: float = _seconds(entry["activates_at"])
        self.retires: float = _seconds(entry["retires_at"])
        self.expires: float = _seconds(entry["expires_at"])
        self._public: Any = import_jwk(entry["public_jwk"]).public_key
        self._private: Any = import_jwk(private_jwk).private_key if private_jwk else None

    def signs_at(self, now: float) -> bool:
        return self.activates <= now < self.retires

    def sign(self, data: bytes) -> bytes:
        key = self._private
        if self.alg == "ES256":
            r, s = decode_dss_signature(key.sign(data, _ES256))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if self.alg == "RS256":
            return bytes(key.sign(data, _PKCS1, _SHA256))
        return bytes(key.sign(data))

    def verify(self, data: bytes, signature: bytes) -> bool:
        key = self._public
        try:
            if self.alg == "ES256":
                if len(signature) != 64:
                    return False
                der = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
                assert isinstance(key, ec.EllipticCurvePublicKey)
                key.verify(der, data, _ES256)
            elif self.alg == "RS256":
                assert isinstance(key, rsa.RSAPublicKey)
                key.verify(signature, data, _PKCS1, _SHA256)
            else:
                assert isinstance(key, ed25519.Ed25519PublicKey)
                key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def _seconds(moment: str | None) -> float:
    """An RFC 3339 instant as POSIX seconds; None (never) as infinity."""
    return math.inf if moment is None else datetime.fromisoformat(moment).timestamp()


@dataclass(slots=True)
class IssuerEdge:
    """An issuer as the edge sees it, parsed once per snapshot version."""

    issuer_id: str
    account_id: str
    url: str
    version: int
    status: str
    settings: Mapping[str, Any]
    keys: Mapping[str, KeyMaterial]
    principals: Mapping[str, Mapping[str, Any]]
    revoked: Mapping[str, int]
    public_jwks: Mapping[str, Mapping[str, Any]]
    shard_id: str | None = None  # the local shard, when the issuer is homed on this node
    validated_at: float = field(default_factory=time.monotonic)
    _jwks: tuple[float, bytes] | None = None
    _signers: dict[str, tuple[float, float, KeyMaterial | None]] = field(default_factory=dict)

    @classmethod
    def parse(cls, document: Mapping[str, Any], base_url: str, sealer: Sealer) -> IssuerEdge:
        issuer_id = document["issuer_id"]
        keys = {}
        for entry in document["keys"]:
            sealed = b64url_decode(entry["sealed_key"])
            private = orjson.loads(sealer.open(sealed, seal_context(issuer_id, entry["kid"])))
            keys[entry["kid"]] = KeyMaterial(entry, private)
        return cls(
            issuer_id=issuer_id,
            account_id=document["account_id"],
            url=f"{base_url}/{issuer_id}",
            version=document["version"],
            status=document["status"],
            settings=document["settings"],
            keys=keys,
            principals=document["principals"],
            revoked=document["revoked"],
            public_jwks={entry["kid"]: entry["public_jwk"] for entry in document["keys"]},
        )

    def signer(self, alg: str, now: float) -> KeyMaterial | None:
        """The key that signs `alg` now: the most recently activated one (cached until the
        next instant a key activates or retires)."""
        cached = self._signers.get(alg)
        if cached is not None and cached[0] <= now < cached[1]:
            return cached[2]
        best = None
        for key in self.keys.values():
            if (
                key.alg == alg
                and key.signs_at(now)
                and (best is None or key.activates > best.activates)
            ):
                best = key
        instants = [t for key in self.keys.values() for t in (key.activates, key.retires)]
        until = min((t for t in instants if t > now), default=math.inf)
        since = max((t for t in instants if t <= now), default=-math.inf)
        self._signers[alg] = (since, until, best)
        return best

    def published(self, kid: str, now: float) -> KeyMaterial | None:
        key = self.keys.get(kid)
        if key is None or key.expires <= now:
            return None
        return key

    def jwks(self, now: float) -> bytes:
        """The JWKS document, rebuilt only when a key has left it since the last build."""
        cached = self._jwks
        if cached is not None and cached[0] > now:
            return cached[1]
        live = [k for k in self.keys.values() if k.expires > now]
        body = orjson.dumps({"keys": [self.public_jwks[k.kid] for k in live]})
        self._jwks = (min((k.expires for k in live), default=math.inf), body)
        return body


class EdgeCache:
    """The node's edge snapshots, kept fresh by pushes, polls and misses."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._held: dict[str, IssuerEdge] = {}
        self._inflight: dict[str, asyncio.Task[IssuerEdge | None]] = {}
        self._last_miss: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._cursors: dict[str, int] = {}  # per local shard: the edge version seen last
        self._checked: dict[str, int] = {}  # per local shard: commits when last checked
        self._shard_locks: dict[str, asyncio.Lock] = {}
        self._unpushed: list[tuple[str, int]] = []
        self._wake = asyncio.Event()
        self._listening: set[str] = set()
        self._stopped = False

    @property
    def held(self) -> Mapping[str, IssuerEdge]:
        return self._held

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._watch_local_shards()),
            asyncio.create_task(self._poll_homes()),
        ]

    async def stop(self) -> None:
        self._stopped = True
        for task in [*self._tasks, *self._inflight.values()]:
            task.cancel()
        for task in [*self._tasks, *self._inflight.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def get(self, issuer_id: str) -> IssuerEdge | None:
        """The issuer's snapshot; fetched on first use. None for an unknown issuer.

        On the issuer's home node a change is seen at once: after any commit to the local
        shard, the next call checks the shard's edge versions before answering.
        """
        edge = self._held.get(issuer_id)
        if edge is not None and edge.shard_id is not None:
            shard = self._node.shards.get(edge.shard_id)
            if self._checked.get(shard.id) != shard.database.commits:
                await self._sync_shard(shard)
                edge = self._held.get(issuer_id)
        if edge is not None:
            if time.monotonic() - edge.validated_at > STALE_LIMIT:
                edge = await self._fetch(issuer_id)
                if edge is None or time.monotonic() - edge.validated_at > STALE_LIMIT:
                    raise EdgeUnavailable(f"issuer {issuer_id}'s configuration is out of date")
            return edge
        return await self._fetch(issuer_id)

    async def refresh_on_miss(self, issuer_id: str) -> IssuerEdge | None:
        """Refetch after an unknown kid or principal, at most once per `MISS_INTERVAL`."""
        now = time.monotonic()
        if now - self._last_miss.get(issuer_id, 0.0) < MISS_INTERVAL:
            inflight = self._inflight.get(issuer_id)
            return await asyncio.shield(inflight) if inflight else self._held.get(issuer_id)
        self._last_miss[issuer_id] = now
        return await self._fetch(issuer_id)

    def changed(self, changes: list[tuple[str, int]]) -> None:
        """A home reported new versions: refetch those held at an older one."""
        for issuer_id, version in changes:
            edge = self._held.get(issuer_id)
            if edge is not None and edge.version < version:
                self._spawn(issuer_id)

    async def _fetch(self, issuer_id: str) -> IssuerEdge | None:
        return await asyncio.shield(self._spawn(issuer_id))

    def _spawn(self, issuer_id: str) -> asyncio.Task[IssuerEdge | None]:
        task = self._inflight.get(issuer_id)
        if task is None:
            task = asyncio.create_task(self._load(issuer_id))
            self._inflight[issuer_id] = task
            task.add_done_callback(lambda _: self._inflight.pop(issuer_id, None))
        return task

    async def _load(self, issuer_id: str) -> IssuerEdge | None:
        node = self._node
        placement = await node.placement(issuer_id)
        held = self._held.get(issuer_id)
        if placement is None or placement.status != "active":
            self._held.pop(issuer_id, None)
            return None
        document: Mapping[str, Any] | None
        try:
            if placement.home_region == node.region:
                document = await node.shards.get(placement.shard_id).edge.snapshot(issuer_id)
            else:
                document = await self._remote(placement.home_region, issuer_id, held)
        except (httpx.HTTPError, EdgeUnavailable, StorageError) as exc:
            log.warning("edge snapshot of %s could not be fetched: %s", issuer_id, exc)
            if held is None:
                raise EdgeUnavailable(f"issuer {issuer_id} is unreachable; retry") from exc
            return held
        if document is None:
            self._held.pop(issuer_id, None)
            return None
        if document is _NOT_MODIFIED or (held and held.version == document["version"]):
            assert held is not None
            held.validated_at = time.monotonic()
            return held
        edge = IssuerEdge.parse(document, node.settings.public_url, node.sealer)
        if placement.home_region == node.region:
            edge.shard_id = placement.shard_id
        self._held[issuer_id] = edge
        return edge

    async def _remote(
        self, home: str, issuer_id: str, held: IssuerEdge | None
    ) -> Mapping[str, Any] | None:
        node = self._node
        url = node.settings.peers.get(home)
        if url is None:
            raise EdgeUnavailable(f"no address for region {home}")
        headers = {"Authorization": f"Bearer {node.settings.mesh_secret}"}
        if held is not None:
            headers["If-None-Match"] = f'"{held.version}"'
        response = await node.http.get(
            f"{url}/_internal/v1/edge/{issuer_id}", headers=headers, timeout=FETCH_TIMEOUT
        )
        if response.status_code == 304:
            return _NOT_MODIFIED
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise EdgeUnavailable(f"home {home} answered HTTP {response.status_code}")
        document: Mapping[str, Any] = orjson.loads(response.content)
        return document

    async def _watch_local_shards(self) -> None:
        """On a home node: push every edge change of local shards to every node."""
        rounds = 0
        while not self._stopped:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WATCH_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            rounds += 1
            try:
                for shard in self._node.shards.all():
                    if shard.id not in self._listening:
                        shard.database.on_commit(self._wake.set)
                        self._listening.add(shard.id)
                    # now and then, look even without a commit here: an operator's command
                    # writes to the shard from another process
                    await self._sync_shard(shard, force=rounds % FORCE_EVERY == 0)
            except Exception:
                log.exception("watching local edge versions failed")
            if self._unpushed:
                changes, self._unpushed = self._unpushed, []
                await self._push(changes)
            await asyncio.sleep(WATCH_GAP_SECONDS)

    async def _sync_shard(self, shard: Shard, *, force: bool = False) -> None:
        """Refetch what changed in a local shard since it was last checked."""
        lock = self._shard_locks.setdefault(shard.id, asyncio.Lock())
        async with lock:
            commits = shard.database.commits
            if self._checked.get(shard.id) == commits and not force:
                return
            since = self._cursors.get(shard.id)
            if since is None:  # a fresh node pushes only what changes from now on
                latest = await shard.edge.changes(0, limit=1_000_000)
                self._cursors[shard.id] = max((v for _, v in latest), default=0)
                for issuer_id, version in latest:
                    held = self._held.get(issuer_id)
                    if held is not None and held.version < version:
                        await self._fetch(issuer_id)
            else:
                found = await shard.edge.changes(since)
                if found:
                    self._cursors[shard.id] = found[-1][1]
                    self._unpushed.extend(found)
                    for issuer_id, version in found:
                        held = self._held.get(issuer_id)
                        if held is not None and held.version < version:
                            await self._fetch(issuer_id)
            self._checked[shard.id] = commits

    async def _push(self, changes: list[tuple[str, int]]) -> None:
        node = self._node
        body = orjson.dumps({"changes": changes})
        headers = {
            "Authorization": f"Bearer {node.settings.mesh_secret}",
            "Content-Type": "application/json",
        }

        async def one(url: str) -> None:
            try:
                await node.http.post(
                    f"{url}/_internal/v1/edge/changed",
                    content=body,
                    headers=headers,
                    timeout=FETCH_TIMEOUT,
                )
            except httpx.HTTPError as exc:  # the peer's poll catches up
                log.info("edge push to %s failed: %s", url, exc)

        await asyncio.gather(*(one(url) for url in node.settings.peers.values()))

    async def _poll_homes(self) -> None:
        """Revalidate every held snapshot with its home, in case a push was lost."""
        while not self._stopped:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self._poll_once()
            except Exception:
                log.exception("revalidating edge snapshots failed")

    async def _poll_once(self) -> None:
        node = self._node
        by_home: dict[str, list[IssuerEdge]] = {}
        for edge in list(self._held.values()):
            placement = await node.placement(edge.issuer_id)
            if placement is None or placement.status != "active":
                self._held.pop(edge.issuer_id, None)
            elif placement.home_region == node.region:
                shard = node.shards.get(placement.shard_id)
                self._revalidated(edge, await shard.edge.version(edge.issuer_id))
            else:
                by_home.setdefault(placement.home_region, []).append(edge)
        for home, edges in by_home.items():
            url = node.settings.peers.get(home)
            if url is None:
                continue
            try:
                response = await node.http.post(
                    f"{url}/_internal/v1/edge/versions",
                    content=orjson.dumps({"issuers": [edge.issuer_id for edge in edges]}),
                    headers={
                        "Authorization": f"Bearer {node.settings.mesh_secret}",
                        "Content-Type": "application/json",
                    },
                    timeout=FETCH_TIMEOUT,
                )
            except httpx.HTTPError as exc:
                log.warning("revalidating with %s failed: %s", home, exc)
                continue
            if response.status_code != 200:
                continue
            versions = orjson.loads(response.content)["versions"]
            for edge in edges:
                if edge.issuer_id in versions:
                    self._revalidated(edge, versions[edge.issuer_id])

    def _revalidated(self, edge: IssuerEdge, version: int | None) -> None:
        if version is None:
            self._held.pop(edge.issuer_id, None)
        elif version == edge.version:
            edge.validated_at = time.monotonic()
        else:
            self._spawn(edge.issuer_id)


_NOT_MODIFIED: Final[Mapping[str, Any]] = {}
