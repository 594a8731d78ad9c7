"""The design's request path through real granian nodes and the mesh proxy."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from runtime.dev import Bootstrap, Mesh
from tests.e2e.conftest import files_containing

MeshFixture = tuple[Mesh, Bootstrap]


def create_issuer(mesh: MeshFixture, name: str, location: str) -> httpx.Response:
    proxy, bootstrap = mesh
    return httpx.post(
        f"{proxy.url}/v1/accounts/{bootstrap.account_id}/issuers",
        json={"name": name, "jurisdiction": "eu"},
        headers={
            "Authorization": f"Bearer {bootstrap.key.token}",
            "X-Client-Location": location,
        },
    )


def test_an_eu_issuer_created_from_lagos_lives_in_the_fra_shard_only(mesh: MeshFixture) -> None:
    response = create_issuer(mesh, "Lagos Marker Issuer", "LOS")
    assert response.status_code == 201, response.text
    # entered at jnb, the node nearest to Lagos, and was replayed exactly once, to fra
    assert response.headers["x-authpi-mesh-path"] == "jnb,fra"
    assert response.headers["authpi-region"] == "fra"
    assert response.json()["home_region"] == "fra"
    root = mesh[0].data_root
    assert files_containing(root, b"Lagos Marker Issuer") != []
    # the shard, and the primary's directory, which lists issuer names (not personal data);
    # no other region's files
    holders = files_containing(root, b"Lagos Marker")
    assert all(path.startswith(("fra/shards/", "fra/directory.db")) for path in holders)
    issuer_id = response.json()["id"]
    holders = []
    for shard_file in root.glob("*/shards/*.db"):
        rows = sqlite3.connect(shard_file).execute(
            "SELECT id FROM issuers WHERE id = ?", (issuer_id,)
        )
        if rows.fetchall():
            holders.append(shard_file.relative_to(root).parts[0])
    assert holders == ["fra"]


@pytest.mark.parametrize(("location", "entry"), [("LOS", "jnb"), ("JFK", "iad"), ("CDG", "fra")])
def test_discovery_is_answered_where_the_client_lands_without_a_replay(
    mesh: MeshFixture, location: str, entry: str
) -> None:
    issuer_id = create_issuer(mesh, "Discovery", "CDG").json()["id"]
    proxy, _ = mesh
    response = httpx.get(
        f"{proxy.url}/{issuer_id}/.well-known/openid-configuration",
        headers={"X-Client-Location": location},
    )
    assert response.status_code == 200
    assert response.headers["x-authpi-mesh-path"] == entry
    assert response.json()["issuer"] == f"{proxy.url}/{issuer_id}"


def test_reading_an_issuer_is_home_work_replayed_to_its_region(mesh: MeshFixture) -> None:
    proxy, bootstrap = mesh
    issuer_id = create_issuer(mesh, "Home Work", "CDG").json()["id"]
    response = httpx.get(
        f"{proxy.url}/v1/accounts/{bootstrap.account_id}/issuers/{issuer_id}",
        headers={"Authorization": f"Bearer {bootstrap.key.token}", "X-Client-Location": "JFK"},
    )
    assert response.status_code == 200
    assert response.headers["x-authpi-mesh-path"] == "iad,fra"
    assert response.json()["name"] == "Home Work"


def test_a_wrong_key_is_refused_at_the_entry_node_without_a_replay(mesh: MeshFixture) -> None:
    proxy, bootstrap = mesh
    response = httpx.post(
        f"{proxy.url}/v1/accounts/{bootstrap.account_id}/issuers",
        json={"name": "Nope", "jurisdiction": "eu"},
        headers={
            "Authorization": f"Bearer {bootstrap.key.key.id}.wrong",
            "X-Client-Location": "LOS",
        },
    )
    assert response.status_code == 401
    assert response.headers["x-authpi-mesh-path"] == "jnb"
    assert response.json()["detail"] == "the API key is not valid"


def test_the_client_location_header_never_reaches_a_node(mesh: MeshFixture) -> None:
    proxy, _ = mesh
    response = httpx.get(
        f"{proxy.url}/health", headers={"X-Client-Location": "NRT", "Fly-Region": "syd"}
    )
    # no nrt node: the proxy picks the nearest configured one; a forged Fly-Region is dropped
    assert response.status_code == 200
    assert response.json()["region"] in {"fra", "iad", "jnb"}


def test_an_issuer_create_retried_with_its_idempotency_key_is_replayed(
    mesh: MeshFixture,
) -> None:
    proxy, bootstrap = mesh

    def create(location: str) -> httpx.Response:
        return httpx.post(
            f"{proxy.url}/v1/accounts/{bootstrap.account_id}/issuers",
            json={"name": "Retried", "jurisdiction": "us"},
            headers={
                "Authorization": f"Bearer {bootstrap.key.token}",
                "X-Client-Location": location,
                "Idempotency-Key": "create-retried-issuer",
            },
        )

    first = create("JFK")
    assert first.status_code == 201, first.text
    assert first.headers["authpi-region"] == "iad"  # homed away from the primary
    retried = create("LOS")  # enters elsewhere; the directory at the primary remembers
    assert retried.status_code == 201
    assert retried.headers["idempotency-replayed"] == "true"
    assert retried.json()["id"] == first.json()["id"]
    listed = httpx.get(
        f"{proxy.url}/v1/accounts/{bootstrap.account_id}/issuers",
        headers={"Authorization": f"Bearer {bootstrap.key.token}"},
    ).json()["data"]
    assert [issuer["name"] for issuer in listed].count("Retried") == 1
