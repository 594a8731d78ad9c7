"""An issuer with an agent and an m2m client, each with a secret, called in process."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from runtime.edge import KeyMaterial
from shards.keys import Sealer, local_key, seal_context
from tests.api.conftest import Install, install  # noqa: F401  (the fixture, shared)
from tests.api.test_graph_support import Issuer, new_issuer

BASE = "https://id.example.com"


@dataclass
class Principal:
    id: str
    secret: str


@dataclass
class OAuthSetup:
    issuer: Issuer
    agent: Principal
    client: Principal

    @property
    def http(self) -> httpx.AsyncClient:
        return self.issuer.install.client

    @property
    def url(self) -> str:
        return f"{BASE}/{self.issuer.id}"

    async def post(
        self, endpoint: str, data: Any, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(f"/{self.issuer.id}/{endpoint}", data=data, headers=headers)

    async def token(self, who: Principal | None = None, **params: str) -> httpx.Response:
        who = who or self.agent
        return await self.post(
            "token",
            {"grant_type": "client_credentials", **params},
            headers={"Authorization": basic(who.id, who.secret)},
        )

    async def access_token(self, who: Principal | None = None, **params: str) -> str:
        response = await self.token(who, **params)
        assert response.status_code == 200, response.text
        value: str = response.json()["access_token"]
        return value

    async def keys(self) -> KeySet:
        response = await self.http.get(f"/{self.issuer.id}/jwks.json")
        assert response.status_code == 200
        return KeySet.import_key_set(response.json())

    async def verified(self, token: str) -> dict[str, Any]:
        decoded = jwt.decode(token, await self.keys(), algorithms=["ES256", "RS256", "EdDSA"])
        assert decoded.header["typ"] == "at+jwt"
        return dict(decoded.claims)

    async def introspect(self, token: str, who: Principal | None = None) -> dict[str, Any]:
        who = who or self.client
        response = await self.post(
            "introspect", {"token": token}, headers={"Authorization": basic(who.id, who.secret)}
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body: dict[str, Any] = response.json()
        return body


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: form-urlencode each part, then base64 the pair."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


async def secret_verifier(issuer: Issuer, parent: str) -> str:
    created = await issuer.create(f"{parent}/verifiers", {"type": "secret"})
    secret: str = created["secret"]
    return secret


@pytest.fixture
async def oauth(install: Install) -> OAuthSetup:  # noqa: F811
    issuer = await new_issuer(install)
    agent = await issuer.agent("triage", scopes=["tickets:read", "tickets:write"])
    client = await issuer.create(
        "/clients", {"name": "backend", "type": "m2m", "scopes": ["reports:read"]}
    )
    return OAuthSetup(
        issuer,
        Principal(agent["id"], await secret_verifier(issuer, f"/agents/{agent['id']}")),
        Principal(client["id"], await secret_verifier(issuer, f"/clients/{client['id']}")),
    )


def issuer_key(setup: OAuthSetup, alg: str = "ES256") -> KeyMaterial:
    """The issuer's current signing key, opened from the shard file with the node's KEK:
    what an attacker would need, so that tests can forge tokens that differ in one claim."""
    files = setup.issuer.install
    database = sqlite3.connect(files.data_dir / files.shard.file)
    database.row_factory = sqlite3.Row
    row = database.execute(
        "SELECT * FROM signing_keys WHERE issuer_id = ? AND alg = ? AND retires_at IS NULL"
        " ORDER BY activates_at DESC LIMIT 1",
        (setup.issuer.id, alg),
    ).fetchone()
    sealer = Sealer(local_key(files.data_dir))
    private = orjson.loads(
        sealer.open(row["sealed_key"], seal_context(setup.issuer.id, row["kid"]))
    )
    entry = {**dict(row), "public_jwk": orjson.loads(row["public_jwk"])}
    return KeyMaterial(entry, private)


def forge(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(claims))}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"
