"""What the identity graph's tests share: an issuer to call, keys to call it with, and the
shard's tables read straight from the file. No tests here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import orjson

from shards.clock import Clock
from shards.directory import Directory
from tests.api.conftest import Install

PROBLEMS: Final = "https://authpi.dev/problems/"
NOW: Final = "2026-11-29T12:00:00.123Z"  # the frozen clock of `tests.conftest`


@dataclass(frozen=True)
class Issuer:
    """An issuer of the install, called with one account's key unless told otherwise."""

    install: Install
    id: str
    account_id: str
    token: str

    @property
    def base(self) -> str:
        return f"/v1/accounts/{self.account_id}/issuers/{self.id}"

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        return await self.install.client.request(
            method,
            self.base + path,
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {token or self.token}", **(headers or {})},
        )

    async def post(self, path: str, body: Any, **options: Any) -> httpx.Response:
        return await self.request("POST", path, body, **options)

    async def get(self, path: str, **options: Any) -> httpx.Response:
        return await self.request("GET", path, **options)

    async def patch(self, path: str, body: Any, **options: Any) -> httpx.Response:
        return await self.request("PATCH", path, body, **options)

    async def delete(self, path: str, **options: Any) -> httpx.Response:
        return await self.request("DELETE", path, **options)

    async def create(self, path: str, body: Any, **options: Any) -> dict[str, Any]:
        """Create a resource that must be accepted; its representation."""
        response = await self.post(path, body, **options)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def user(self, email: str, **fields: Any) -> dict[str, Any]:
        return await self.create("/users", {"email": email, **fields})

    async def organization(self, name: str, **fields: Any) -> dict[str, Any]:
        return await self.create("/organizations", {"name": name, **fields})

    async def agent(self, name: str, **fields: Any) -> dict[str, Any]:
        return await self.create("/agents", {"name": name, **fields})

    async def member(self, organization_id: str, member_id: str) -> dict[str, Any]:
        path = f"/organizations/{organization_id}/memberships"
        return await self.create(path, {"member_id": member_id})

    async def org_key(self, organization_id: str, scopes: list[str], **fields: Any) -> str:
        """A new organization API key's token."""
        path = f"/organizations/{organization_id}/api_keys"
        created = await self.create(path, {"name": "ci", "scopes": scopes, **fields})
        token: str = created["secret"]
        return token


async def new_issuer(install: Install, *, name: str = "Acme EU") -> Issuer:
    """A new issuer of the install's first account, in its only region."""
    response = await install.client.post(
        f"/v1/accounts/{install.account_id}/issuers",
        json={"name": name, "jurisdiction": "eu"},
        headers=install.auth(),
    )
    assert response.status_code == 201, response.text
    return Issuer(install, response.json()["id"], install.account_id, install.token)


async def account_key(
    install: Install,
    clock: Clock,
    scopes: Iterable[str],
    *,
    ip_allowlist: Iterable[str] = (),
) -> str:
    """A new key of the first account, made in the directory as an operator would; its token.

    The app's replica has not seen it yet: it learns of it on the key's first use.
    """
    directory = await Directory.open(install.data_dir, clock)
    try:
        issued = await directory.create_api_key(
            install.account_id, "limited", scopes, ip_allowlist=ip_allowlist
        )
    finally:
        await directory.close()
    return issued.token


def query(install: Install, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows read straight from the shard's file, as an operator would."""
    with contextlib.closing(sqlite3.connect(install.data_dir / install.shard.file)) as db:
        return [tuple(row) for row in db.execute(sql, params).fetchall()]


def events(install: Install) -> list[tuple[str, str]]:
    """`(type, subject)` of every event in the shard, in commit order."""
    return [
        (row[0], row[1]) for row in query(install, "SELECT type, subject FROM events ORDER BY seq")
    ]


def event_data(install: Install, type: str, subject: str) -> dict[str, Any]:
    rows = query(install, "SELECT data FROM events WHERE type = ? AND subject = ?", (type, subject))
    assert len(rows) == 1, f"{len(rows)} {type} events for {subject}"
    data: dict[str, Any] = orjson.loads(rows[0][0])
    return data


def stored_ids(install: Install, kind: str) -> list[str]:
    return [
        row[0]
        for row in query(install, "SELECT id FROM resources WHERE kind = ? ORDER BY id", (kind,))
    ]


def totals(install: Install) -> tuple[int, int]:
    """How many resources and events the shard holds: what a refused request must not move."""
    ((resources,),) = query(install, "SELECT COUNT(*) FROM resources")
    ((written,),) = query(install, "SELECT COUNT(*) FROM events")
    return resources, written


def problem(slug: str, title: str, status: int, detail: str, **extensions: Any) -> dict[str, Any]:
    return {
        "type": PROBLEMS + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extensions,
    }


def invalid(*errors: tuple[str, str]) -> dict[str, Any]:
    """The 422 body listing these `(field, message)` errors."""
    return problem(
        "validation-failed",
        "Validation failed",
        422,
        "invalid fields: " + ", ".join(field for field, _ in errors),
        errors=[{"field": field, "message": message} for field, message in errors],
    )


def not_found(detail: str) -> dict[str, Any]:
    return problem("not-found", "Not found", 404, detail)


def forbidden(detail: str, **extensions: Any) -> dict[str, Any]:
    return problem("forbidden", "Forbidden", 403, detail, **extensions)
