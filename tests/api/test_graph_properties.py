"""Reach, as a property: whatever was created before, no key reads or writes outside it.

Two accounts hold three issuers (two in the first account); organizations come with their own
API keys. Hypothesis draws sequences of creates and probes; a model of who owns what predicts
every answer. One app serves every example of a test: an `asyncio.Runner` keeps its event
loop, and so the app's lifespan, across examples.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from hypothesis import event, given, settings
from hypothesis import strategies as st

from runtime.app import create_app
from runtime.settings import Settings
from shards.directory import Directory
from tests.api.test_graph_support import forbidden, not_found, problem
from tests.conftest import FrozenClock

ORG_KEY_SCOPES: Final = (
    ("*",),
    ("organizations:read",),
    ("organizations:read", "organizations:write"),
    ("users:read", "users:write"),
)
TARGETS: Final = ("users", "organizations", "organization", "groups")
PER_PAGE: Final = 100


@dataclass(frozen=True)
class IssuerRef:
    id: str
    account_id: str


@dataclass(frozen=True)
class Key:
    token: str
    account_id: str
    organization_id: str | None = None  # an org key's organization
    issuer_id: str | None = None  # and its issuer
    scopes: tuple[str, ...] = ("*",)


@dataclass
class Model:
    """Who owns what: every resource the examples created, by issuer and organization."""

    issuers: list[IssuerRef]
    keys: list[Key]
    owned: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (owner, kind)
    emails: Iterator[int] = field(default_factory=itertools.count)

    def add(self, owner: str, kind: str, resource_id: str) -> None:
        self.owned.setdefault((owner, kind), []).append(resource_id)

    def of(self, owner: str, kind: str) -> list[str]:
        return sorted(self.owned.get((owner, kind), []))


@dataclass(frozen=True)
class Create:
    kind: str
    issuer: int
    scopes: tuple[str, ...]  # of the key minted with an organization


@dataclass(frozen=True)
class Probe:
    key: int
    issuer: int
    organization: int
    target: str
    write: bool
    own_account_path: bool  # an account key names its own account, not the issuer's
    aim: int  # an org key: 0 anywhere, 1 its own issuer, 2 and more its own organization


STEPS: Final = st.lists(
    st.one_of(
        st.builds(
            Create,
            kind=st.sampled_from(("user", "agent", "organization")),
            issuer=st.integers(0, 2),
            scopes=st.sampled_from(ORG_KEY_SCOPES),
        ),
        st.builds(
            Probe,
            key=st.integers(0, 1000),
            issuer=st.integers(0, 2),
            organization=st.integers(0, 1000),
            target=st.sampled_from(TARGETS),
            write=st.booleans(),
            own_account_path=st.booleans(),
            aim=st.integers(0, 3),
        ),
    ),
    min_size=1,
    max_size=20,
)


class World:
    """The app on real files and the model of what it holds."""

    def __init__(self, client: httpx.AsyncClient, shard_file: Path, model: Model) -> None:
        self.client = client
        self.shard_file = shard_file
        self.model = model

    def totals(self) -> tuple[int, int]:
        with contextlib.closing(sqlite3.connect(self.shard_file)) as db:
            (resources,) = db.execute("SELECT COUNT(*) FROM resources").fetchone()
            (written,) = db.execute("SELECT COUNT(*) FROM events").fetchone()
        return int(resources), int(written)

    def stored(self, resource_id: str) -> tuple[str, str | None]:
        """`(issuer_id, parent_id)` of a resource, as the shard's file holds it."""
        with contextlib.closing(sqlite3.connect(self.shard_file)) as db:
            row = db.execute(
                "SELECT issuer_id, parent_id FROM resources WHERE id = ?", (resource_id,)
            ).fetchone()
        assert row is not None, f"{resource_id} is not stored"
        return str(row[0]), row[1]

    async def call(
        self, method: str, path: str, token: str, body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        response = await self.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code, response.json()

    async def play(self, steps: list[Create | Probe]) -> None:
        for step in steps:
            if isinstance(step, Create):
                await self.create(step)
            else:
                await self.probe(step)

    async def create(self, step: Create) -> None:
        issuer = self.model.issuers[step.issuer]
        key = next(k for k in self.model.keys if k.account_id == issuer.account_id)
        base = f"/v1/accounts/{issuer.account_id}/issuers/{issuer.id}"
        body = self.new_body(step.kind)
        status, created = await self.call("POST", f"{base}/{step.kind}s", key.token, body)
        assert status == 201, created
        self.model.add(issuer.id, step.kind, created["id"])
        if step.kind == "organization":
            path = f"{base}/organizations/{created['id']}/api_keys"
            status, org_key = await self.call(
                "POST", path, key.token, {"name": "k", "scopes": list(step.scopes)}
            )
            assert status == 201, org_key
            self.model.keys.append(
                Key(org_key["secret"], issuer.account_id, created["id"], issuer.id, step.scopes)
            )

    def new_body(self, kind: str) -> dict[str, Any]:
        if kind == "user":
            return {"email": f"u{next(self.model.emails)}@example.com"}
        return {"name": kind.title()}

    def aim(self, step: Probe) -> Shot:
        """Resolve a drawn probe against what exists now."""
        key = self.model.keys[step.key % len(self.model.keys)]
        issuer = self.model.issuers[step.issuer]
        if key.issuer_id is not None and step.aim > 0:
            issuer = next(i for i in self.model.issuers if i.id == key.issuer_id)
        organizations = self.model.of(issuer.id, "organization")
        target = step.target
        if target in ("organization", "groups") and not organizations:
            target = "organizations"
        org = organizations[step.organization % len(organizations)] if organizations else None
        if key.organization_id is not None and step.aim > 1:
            org = key.organization_id
        account = issuer.account_id
        if key.organization_id is None and step.own_account_path:
            account = key.account_id
        return Shot(key, issuer, account, org, target, step.write)

    async def probe(self, step: Probe) -> None:
        shot = self.aim(step)
        body: Any = None
        if shot.target == "organization" and shot.write:
            body = {"metadata": {"probe": 1}}
        elif shot.write:
            body = self.new_body("user" if shot.target == "users" else "group")
        before = self.totals()
        status, answer = await self.call(shot.method, shot.path, shot.key.token, body)
        event(f"{'org' if shot.key.organization_id else 'account'} key: {status}")
        refusal = expected_refusal(shot)
        if refusal is not None:
            assert (status, answer) == (refusal["status"], refusal), shot
            assert self.totals() == before
        elif shot.target == "organization":
            assert (status, answer["id"]) == (200, shot.org), shot
        elif shot.write:
            assert status == 201, (shot, answer)
            assert self.stored(answer["id"]) == (shot.issuer.id, shot.parent)
            self.model.add(shot.parent or shot.issuer.id, shot.kind, answer["id"])
        else:
            assert status == 200, (shot, answer)
            listed = [item["id"] for item in answer["data"]]
            assert listed == self.model.of(shot.parent or shot.issuer.id, shot.kind)[:PER_PAGE]


@dataclass(frozen=True)
class Shot:
    """A probe resolved: this key calls this target of this issuer, naming this account."""

    key: Key
    issuer: IssuerRef
    account: str
    org: str | None
    target: str
    write: bool

    @property
    def kind(self) -> str:
        return {"users": "user", "groups": "group"}.get(self.target, "organization")

    @property
    def parent(self) -> str | None:
        return self.org if self.target == "groups" else None

    @property
    def method(self) -> str:
        if not self.write:
            return "GET"
        return "PATCH" if self.target == "organization" else "POST"

    @property
    def path(self) -> str:
        base = f"/v1/accounts/{self.account}/issuers/{self.issuer.id}"
        if self.target == "organization":
            return f"{base}/organizations/{self.org}"
        path = (
            f"{base}/organizations/{self.org}/groups"
            if self.target == "groups"
            else (f"{base}/{self.target}")
        )
        return path if self.write else f"{path}?limit={PER_PAGE}"


def expected_refusal(shot: Shot) -> dict[str, Any] | None:
    """The problem the model predicts for this shot; None if it is allowed."""
    key = shot.key
    if key.organization_id is None:
        if shot.account != key.account_id:
            return forbidden(f"this API key cannot act on account {shot.account}")
        if shot.issuer.account_id != key.account_id:
            return not_found(f"issuer {shot.issuer.id} not found in account {shot.account}")
        return None
    if shot.issuer.id != key.issuer_id:
        return problem("unauthenticated", "Unauthenticated", 401, "the API key is not valid")
    area = "users" if shot.target == "users" else "organizations"
    scope = f"{area}:{'write' if shot.write else 'read'}"
    if "*" not in key.scopes and scope not in key.scopes:
        return forbidden(f"this API key lacks the scope {scope}", scope=scope)
    if shot.target in ("users", "organizations") or shot.org != key.organization_id:
        return forbidden(f"this organization API key can only manage {key.organization_id}")
    return None


@contextlib.asynccontextmanager
async def opened(data_dir: Path, clock: FrozenClock) -> AsyncIterator[World]:
    directory = await Directory.open(data_dir, clock)
    try:
        shard = await directory.register_shard("fra")
        accounts = [await directory.create_account(name) for name in ("Acme", "Globex")]
    finally:
        await directory.close()
    settings = Settings.from_environ(
        {
            "FLY_REGION": "fra",
            "AUTHPI_DATA_DIR": str(data_dir),
            "AUTHPI_PUBLIC_URL": "https://id.example.com",
        }
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fra.test") as client:
            keys = [Key(issued.token, account.id) for account, issued in accounts]
            issuers = []
            for key in (keys[0], keys[0], keys[1]):
                response = await client.post(
                    f"/v1/accounts/{key.account_id}/issuers",
                    json={"name": "Issuer", "jurisdiction": "eu"},
                    headers={"Authorization": f"Bearer {key.token}"},
                )
                assert response.status_code == 201, response.text
                issuers.append(IssuerRef(response.json()["id"], key.account_id))
            yield World(client, data_dir / shard.file, Model(issuers, keys))


def test_no_key_reads_or_writes_outside_its_reach(tmp_path: Path, clock: FrozenClock) -> None:
    stack = contextlib.AsyncExitStack()
    with asyncio.Runner() as runner:
        world = runner.run(stack.enter_async_context(opened(tmp_path, clock)))

        @settings(max_examples=30, deadline=None, database=None)
        @given(steps=STEPS)
        def explore(steps: list[Create | Probe]) -> None:
            runner.run(world.play(steps))

        try:
            explore()
        finally:
            runner.run(stack.aclose())
