"""The token path through real granian nodes: edge work where the caller lands, no replay,
and changes made at home reaching every node within the stated staleness bound."""

from __future__ import annotations

import base64
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import httpx
import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from api.oauth.replay import GOSSIP_SECONDS
from authpi_idp import TokenVerifier
from runtime.dev import Bootstrap, Mesh
from shards.keys import EDGE_STALENESS

MeshFixture = tuple[Mesh, Bootstrap]
ENTRIES = {"iad": "JFK", "jnb": "LOS", "fra": "CDG"}


@dataclass
class EuIssuer:
    mesh: Mesh
    bootstrap: Bootstrap
    id: str
    agent_id: str
    secret: str

    @property
    def url(self) -> str:
        return f"{self.mesh.url}/{self.id}"

    def core(self, method: str, path: str, body: object = None) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.mesh.url}/v1/accounts/{self.bootstrap.account_id}/issuers/{self.id}{path}",
            json=body,
            headers={
                "Authorization": f"Bearer {self.bootstrap.key.token}",
                "X-Client-Location": "CDG",
            },
        )

    def token(self, entry: str, secret: str | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.url}/token",
            data={"grant_type": "client_credentials"},
            auth=(self.agent_id, secret or self.secret),
            headers={"X-Client-Location": ENTRIES[entry]},
        )


@pytest.fixture(scope="module")
def issuer(mesh: MeshFixture) -> EuIssuer:
    proxy, bootstrap = mesh
    created = httpx.post(
        f"{proxy.url}/v1/accounts/{bootstrap.account_id}/issuers",
        json={"name": "Edge EU", "jurisdiction": "eu"},
        headers={"Authorization": f"Bearer {bootstrap.key.token}", "X-Client-Location": "CDG"},
    )
    assert created.status_code == 201, created.text
    partial = EuIssuer(proxy, bootstrap, created.json()["id"], "", "")
    agent = partial.core("POST", "/agents", {"name": "triage", "scopes": ["tickets:read"]})
    assert agent.status_code == 201, agent.text
    verifier = partial.core("POST", f"/agents/{agent.json()['id']}/verifiers", {"type": "secret"})
    assert verifier.status_code == 201, verifier.text
    return EuIssuer(proxy, bootstrap, partial.id, agent.json()["id"], verifier.json()["secret"])


def eventually(check: Callable[[], bool], bound: float = EDGE_STALENESS) -> float:
    """Seconds until `check` held; fails if it never did within `bound`."""
    started = time.monotonic()
    while time.monotonic() - started < bound:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within the staleness bound of {bound} s")


def refused(issuer: EuIssuer, entry: str, secret: str | None) -> bool:
    return issuer.token(entry, secret).status_code == 401


def signed_by(issuer: EuIssuer, entry: str, expected: str) -> bool:
    return kid(issuer.token(entry).json()["access_token"]) == expected


def kid(token: str) -> str:
    header = token.split(".")[0]
    return str(orjson.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def test_an_eu_agent_mints_at_iad_without_a_replay_and_verifies_from_anywhere(
    issuer: EuIssuer,
) -> None:
    response = issuer.token("iad")
    assert response.status_code == 200, response.text
    assert response.headers["x-authpi-mesh-path"] == "iad"
    assert response.headers["authpi-region"] == "iad"
    token = response.json()["access_token"]
    # iad holds no shard with the issuer: the answer came from its memory
    for shard_file in (issuer.mesh.data_root / "iad").glob("shards/*.db"):
        rows = sqlite3.connect(shard_file).execute(
            "SELECT id FROM issuers WHERE id = ?", (issuer.id,)
        )
        assert rows.fetchall() == []

    async def verify() -> str:
        async with (
            httpx.AsyncClient(headers={"X-Client-Location": "LOS"}) as http,
            TokenVerifier(issuer.url, issuer.url, http=http) as verifier,
        ):
            return (await verifier.verify(token)).subject

    import asyncio

    assert asyncio.run(verify()) == issuer.agent_id
    jwks = httpx.get(f"{issuer.url}/jwks.json", headers={"X-Client-Location": "LOS"})
    assert jwks.headers["x-authpi-mesh-path"] == "jnb"


def test_a_rotated_key_reaches_every_node_within_the_bound(issuer: EuIssuer) -> None:
    for entry in ENTRIES:
        assert issuer.token(entry).status_code == 200  # every node holds the issuer
    rotated = issuer.core("POST", "/signing_keys/rotate", {"alg": "ES256", "immediate": True})
    assert rotated.status_code == 201, rotated.text
    new_kid = rotated.json()["key"]["kid"]
    for entry in ENTRIES:
        eventually(partial(signed_by, issuer, entry, new_kid))
        published = httpx.get(
            f"{issuer.url}/jwks.json", headers={"X-Client-Location": ENTRIES[entry]}
        ).json()
        assert new_kid in {key["kid"] for key in published["keys"]}


def test_a_deleted_verifier_and_a_disabled_agent_reach_every_node_within_the_bound(
    issuer: EuIssuer,
) -> None:
    spare = issuer.core("POST", f"/agents/{issuer.agent_id}/verifiers", {"type": "secret"})
    assert spare.status_code == 201
    secret = spare.json()["secret"]
    for entry in ENTRIES:  # a new verifier works at once: an unknown secret refetches
        assert issuer.token(entry, secret).status_code == 200
    deleted = issuer.core("DELETE", f"/agents/{issuer.agent_id}/verifiers/{spare.json()['id']}")
    assert deleted.status_code == 204
    for entry in ENTRIES:
        eventually(partial(refused, issuer, entry, secret))
        assert issuer.token(entry).status_code == 200  # the other verifier still works

    disabled = issuer.core("PATCH", f"/agents/{issuer.agent_id}", {"status": "disabled"})
    assert disabled.status_code == 200
    for entry in ENTRIES:
        eventually(partial(refused, issuer, entry, None))
    answer = issuer.token("jnb")
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["x-authpi-mesh-path"] == "jnb"


def test_a_client_assertion_used_at_one_node_is_refused_at_every_other(
    issuer: EuIssuer,
) -> None:
    """RFC 7523 §3: a `jti` is used once. The node that sees it first tells its peers, so a
    replay that enters elsewhere is refused too (api/oauth/replay.py)."""
    key = ECKey.generate_key("P-256")
    agent = issuer.core("POST", "/agents", {"name": "signer", "scopes": ["tickets:read"]})
    assert agent.status_code == 201, agent.text
    agent_id = agent.json()["id"]
    verifier = issuer.core(
        "POST",
        f"/agents/{agent_id}/verifiers",
        {"type": "public_key", "jwk": key.as_dict(private=False)},
    )
    assert verifier.status_code == 201, verifier.text

    def signed_form() -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": agent_id,
            "sub": agent_id,
            "aud": issuer.url,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
        }
        return {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": jwt.encode({"alg": "ES256"}, claims, key),
        }

    def present(entry: str, form: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{issuer.url}/token", data=form, headers={"X-Client-Location": ENTRIES[entry]}
        )

    # The new key reaches every node within the bound; each probe is a fresh assertion.
    eventually(lambda: all(present(entry, signed_form()).status_code == 200 for entry in ENTRIES))
    form = signed_form()
    first = present("iad", form)
    assert first.status_code == 200, first.text
    assert first.headers["x-authpi-mesh-path"] == "iad"
    # No probe can tell when the news has arrived without spending the assertion, so wait
    # well past the batch interval plus a loopback round trip.
    time.sleep(25 * GOSSIP_SECONDS)
    for entry in ("jnb", "fra", "iad"):
        replayed = present(entry, form)
        assert replayed.status_code == 401, (entry, replayed.text)
        assert replayed.json() == {
            "error": "invalid_client",
            "error_description": "this client assertion was already used",
        }
        assert replayed.headers["x-authpi-mesh-path"] == entry


def test_replay_news_needs_the_mesh_secret_and_names_known_sets(issuer: EuIssuer) -> None:
    node = issuer.mesh.nodes["jnb"]
    url = f"{node.url}/_internal/v1/oauth/seen"
    anonymous = httpx.post(url, json={"assertions": [["k", time.time() + 60]]})
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"] == "node-to-node calls need the mesh secret"
    secret = {"Authorization": f"Bearer {node.env['AUTHPI_MESH_SECRET']}"}
    unknown = httpx.post(url, json={"tokens": []}, headers=secret)
    assert unknown.status_code == 409
    assert unknown.json()["detail"] == "tokens is not a replay set of this node"
    assert httpx.post(url, json={"proofs": [["k", 1]]}, headers=secret).status_code == 204
