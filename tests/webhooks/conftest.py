from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from runtime.app import create_app
from runtime.node import Node
from runtime.settings import Settings
from shards.directory import Directory
from tests.conftest import FrozenClock
from tests.webhooks.receiver import Receiver

PUBLIC_URL = "https://id.example.com"


@dataclass
class Hooks:
    """A one-region install that may deliver to loopback, an issuer, and a live receiver."""

    client: httpx.AsyncClient
    node: Node
    clock: FrozenClock
    account_id: str
    token: str
    issuer_id: str
    receiver: Receiver
    data_dir: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def webhooks(self) -> str:
        return f"/v1/accounts/{self.account_id}/webhooks"

    @property
    def issuer(self) -> str:
        return f"/v1/accounts/{self.account_id}/issuers/{self.issuer_id}"

    async def subscribe(self, types: list[str], **fields: Any) -> dict[str, Any]:
        body = {"url": self.receiver.url, "event_types": types, **fields}
        response = await self.client.post(self.webhooks, json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        self.receiver.secrets.append(created["secret"])
        return created

    async def create_user(self, email: str) -> str:
        response = await self.client.post(
            f"{self.issuer}/users", json={"email": email}, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def settle(self) -> None:
        await self.node.webhooks.settle()

    async def advance(self, seconds: float) -> None:
        self.clock.moment += timedelta(seconds=seconds)
        await self.settle()

    async def deliveries(self, webhook_id: str, **params: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{self.issuer}/webhooks/{webhook_id}/deliveries",
            params={"limit": "100", **params},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def live_clock(behind: timedelta = timedelta(0)) -> FrozenClock:
    """A held clock near the real time: receivers check `webhook-timestamp` against theirs."""
    return FrozenClock(datetime.now(UTC) - behind)


@asynccontextmanager
async def open_hooks(
    tmp_path: Path, clock: FrozenClock, receiver: Receiver
) -> AsyncIterator[Hooks]:
    directory = await Directory.open(tmp_path, clock)
    await directory.register_shard("fra")
    account, issued = await directory.create_account("Acme")
    await directory.close()
    settings = Settings.from_environ(
        {
            "FLY_REGION": "fra",
            "AUTHPI_DATA_DIR": str(tmp_path),
            "AUTHPI_PUBLIC_URL": PUBLIC_URL,
            "AUTHPI_WEBHOOKS_ALLOW_PRIVATE": "1",
        }
    )
    app: Starlette = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fra.test") as client:
            headers = {"Authorization": f"Bearer {issued.token}"}
            response = await client.post(
                f"/v1/accounts/{account.id}/issuers",
                json={"name": "Acme EU", "jurisdiction": "eu"},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            yield Hooks(
                client,
                app.state.node,
                clock,
                account.id,
                issued.token,
                response.json()["id"],
                receiver,
                tmp_path,
            )


@pytest.fixture
async def hooks(tmp_path: Path, receiver: Receiver) -> AsyncIterator[Hooks]:
    async with open_hooks(tmp_path, live_clock(), receiver) as value:
        yield value
