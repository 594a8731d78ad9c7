"""An account API key's life across regions, through real granian nodes and the mesh proxy:
created at the primary, used where the client lands, refused there once revoked."""

from __future__ import annotations

import time
from typing import Any

import httpx

from runtime.dev import Bootstrap, Mesh

MeshFixture = tuple[Mesh, Bootstrap]
DEADLINE_SECONDS = 10.0
POLL_SECONDS = 0.05


def call(
    mesh: MeshFixture, method: str, path: str, location: str, token: str, body: Any = None
) -> httpx.Response:
    proxy, bootstrap = mesh
    return httpx.request(
        method,
        f"{proxy.url}/v1/accounts/{bootstrap.account_id}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}", "X-Client-Location": location},
    )


def health(mesh: MeshFixture, location: str) -> dict[str, Any]:
    response = httpx.get(f"{mesh[0].url}/health", headers={"X-Client-Location": location})
    document: dict[str, Any] = response.json()
    return document


def wait_until(condition: Any, what: str) -> None:
    """Poll `condition` until it holds, for a bounded time."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_SECONDS)


def test_a_key_made_at_the_primary_works_elsewhere_until_revoked(mesh: MeshFixture) -> None:
    admin = mesh[1].key.token
    issuer = call(mesh, "POST", "/issuers", "JFK", admin, {"name": "US", "jurisdiction": "us"})
    assert (issuer.status_code, issuer.json()["home_region"]) == (201, "iad")
    issuer_path = f"/issuers/{issuer.json()['id']}"

    # entered at iad, which authenticated the caller and replayed it to the primary
    created = call(
        mesh, "POST", "/api_keys", "JFK", admin, {"name": "reader", "scopes": ["issuers:read"]}
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-authpi-mesh-path"] == "iad,fra"
    key_id, token = created.json()["id"], created.json()["secret"]

    # used where the client lands: iad authenticates it from its replica, no replay
    used = call(mesh, "GET", issuer_path, "JFK", token)
    assert used.status_code == 200, used.text
    assert used.headers["x-authpi-mesh-path"] == "iad"

    # iad hands its use over to the primary on its flush timer
    def last_used() -> Any:
        return call(mesh, "GET", f"/api_keys/{key_id}", "CDG", admin).json()["last_used_at"]

    wait_until(lambda: last_used() is not None, "last_used_at to reach the directory")

    revoked = call(mesh, "DELETE", f"/api_keys/{key_id}", "CDG", admin)
    assert (revoked.status_code, revoked.headers["x-authpi-mesh-path"]) == (204, "fra")
    version = health(mesh, "CDG")["directory_version"]
    wait_until(
        lambda: health(mesh, "JFK")["directory_version"] >= version, "iad's replica to refresh"
    )
    refused = call(mesh, "GET", issuer_path, "JFK", token)
    assert refused.status_code == 401
    assert refused.headers["x-authpi-mesh-path"] == "iad"
    assert refused.json()["detail"] == "the API key has been revoked"


def test_an_issuer_changed_and_deleted_at_home_reaches_the_primary(mesh: MeshFixture) -> None:
    admin = mesh[1].key.token
    created = call(mesh, "POST", "/issuers", "JFK", admin, {"name": "US", "jurisdiction": "us"})
    issuer_id = created.json()["id"]
    changed = call(
        mesh, "PATCH", f"/issuers/{issuer_id}", "LOS", admin, {"name": "US 2", "status": "disabled"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["x-authpi-mesh-path"] == "jnb,iad"
    listed = call(mesh, "GET", "/issuers", "JFK", admin)
    assert listed.headers["x-authpi-mesh-path"] == "iad,fra"
    mine = [item for item in listed.json()["data"] if item["id"] == issuer_id]
    assert mine == [changed.json()]

    deleted = call(mesh, "DELETE", f"/issuers/{issuer_id}", "CDG", admin)
    assert (deleted.status_code, deleted.headers["x-authpi-mesh-path"]) == (204, "fra,iad")
    listed = call(mesh, "GET", "/issuers", "CDG", admin).json()["data"]
    assert issuer_id not in [item["id"] for item in listed]
