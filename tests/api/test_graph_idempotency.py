"""`Idempotency-Key` on creates: one resource however often and however concurrently a request
is retried, its stored response replayed (without a secret), per API key and issuer.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import Install
from tests.api.test_graph_support import (
    Issuer,
    account_key,
    events,
    invalid,
    new_issuer,
    problem,
    stored_ids,
    totals,
)
from tests.conftest import FrozenClock


@pytest.fixture
async def issuer(install: Install) -> Issuer:
    return await new_issuer(install)


async def post(issuer: Issuer, path: str, body: Any, key: str, **options: Any) -> httpx.Response:
    return await issuer.post(path, body, headers={"Idempotency-Key": key}, **options)


async def test_ten_concurrent_retries_create_one_user(issuer: Issuer) -> None:
    body = {"email": "ada@example.com"}
    responses = await asyncio.gather(*(post(issuer, "/users", body, "k-1") for _ in range(10)))
    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.json()["id"] for r in responses}) == 1
    replayed = [r.headers.get("idempotency-replayed") for r in responses]
    assert (replayed.count("true"), replayed.count(None)) == (9, 1)
    assert len({(r.content, r.headers["etag"], r.headers["location"]) for r in responses}) == 1
    user_id = responses[0].json()["id"]
    assert stored_ids(issuer.install, "user") == [user_id]
    assert events(issuer.install)[-1] == ("user.created", user_id)
    assert sum(type == "user.created" for type, _ in events(issuer.install)) == 1


async def test_a_later_retry_replays_the_stored_response(issuer: Issuer) -> None:
    first = await post(issuer, "/organizations", {"name": "Acme"}, "k-1")
    again = await post(issuer, "/organizations", {"name": "Acme"}, "k-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotency-replayed"] == "true"
    assert "idempotency-replayed" not in first.headers
    assert stored_ids(issuer.install, "organization") == [first.json()["id"]]


async def test_the_same_key_with_another_body_is_a_422(issuer: Issuer) -> None:
    await post(issuer, "/organizations", {"name": "Acme"}, "k-1")
    before = totals(issuer.install)
    response = await post(issuer, "/organizations", {"name": "Globex"}, "k-1")
    assert response.status_code == 422
    assert response.json() == problem(
        "idempotency-key-reused",
        "Idempotency key reused",
        422,
        "Idempotency-Key 'k-1' was used with a different request",
    )
    assert totals(issuer.install) == before


async def test_the_same_key_on_another_path_is_a_422(issuer: Issuer) -> None:
    await post(issuer, "/organizations", {"name": "Acme"}, "k-1")
    response = await post(issuer, "/agents", {"name": "Acme"}, "k-1")
    assert response.status_code == 422
    assert response.json()["type"] == "https://authpi.dev/problems/idempotency-key-reused"


async def test_keys_are_per_api_key(issuer: Issuer, clock: FrozenClock) -> None:
    second = await account_key(issuer.install, clock, ["*"])
    first = await post(issuer, "/organizations", {"name": "Acme"}, "k-1")
    other = await post(issuer, "/organizations", {"name": "Acme"}, "k-1", token=second)
    assert (first.status_code, other.status_code) == (201, 201)
    assert "idempotency-replayed" not in other.headers
    assert first.json()["id"] != other.json()["id"]
    assert len(stored_ids(issuer.install, "organization")) == 2


async def test_keys_are_per_issuer(install: Install, issuer: Issuer) -> None:
    sibling = await new_issuer(install, name="Acme US")
    here = await post(issuer, "/organizations", {"name": "Acme"}, "k-1")
    there = await post(sibling, "/organizations", {"name": "Acme"}, "k-1")
    assert "idempotency-replayed" not in there.headers
    assert here.json()["id"] != there.json()["id"]


async def test_a_replayed_secret_is_never_shown_again(issuer: Issuer) -> None:
    org = await issuer.organization("Acme")
    path = f"/organizations/{org['id']}/api_keys"
    body = {"name": "ci", "scopes": ["*"]}
    responses = await asyncio.gather(*(post(issuer, path, body, "k-1") for _ in range(3)))
    originals = [r for r in responses if "idempotency-replayed" not in r.headers]
    assert len(originals) == 1
    created = originals[0].json()
    assert created["secret"].startswith(created["id"] + ".")
    public = {k: v for k, v in created.items() if k != "secret"}
    for response in responses:
        if response is not originals[0]:
            assert (response.status_code, response.json()) == (201, public)
    assert stored_ids(issuer.install, "org_api_key") == [created["id"]]


@pytest.mark.parametrize("create", ["personal_token", "verifier"])
async def test_other_secrets_are_left_out_of_replays_too(issuer: Issuer, create: str) -> None:
    if create == "personal_token":
        user = await issuer.user("ada@example.com")
        path, body = f"/users/{user['id']}/personal_tokens", {"name": "laptop"}
    else:
        agent = await issuer.agent("Triage")
        path, body = f"/agents/{agent['id']}/verifiers", {"type": "secret"}
    first = await post(issuer, path, body, "k-1")
    again = await post(issuer, path, body, "k-1")
    assert "secret" in first.json()
    assert again.json() == {k: v for k, v in first.json().items() if k != "secret"}


async def test_a_refused_create_is_not_remembered(issuer: Issuer) -> None:
    taken = await issuer.user("ada@example.com")
    response = await post(issuer, "/users", {"email": "ada@example.com"}, "k-1")
    assert response.status_code == 409
    await issuer.delete(f"/users/{taken['id']}")
    response = await post(issuer, "/users", {"email": "ada@example.com"}, "k-1")
    assert response.status_code == 201
    assert "idempotency-replayed" not in response.headers


async def test_a_key_is_forgotten_after_its_retention(issuer: Issuer, clock: FrozenClock) -> None:
    first = await post(issuer, "/organizations", {"name": "Acme"}, "k-1")
    clock.moment += timedelta(hours=47)
    assert (await post(issuer, "/organizations", {"name": "Acme"}, "k-1")).headers[
        "idempotency-replayed"
    ] == "true"
    clock.moment += timedelta(hours=2)
    later = await post(issuer, "/organizations", {"name": "Acme"}, "k-1")
    assert "idempotency-replayed" not in later.headers
    assert later.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("key", ["", "k 1", "k\u00e9", "k" * 256])
async def test_a_malformed_key_is_a_422(issuer: Issuer, key: str) -> None:
    before = totals(issuer.install)
    response = await issuer.install.client.post(
        issuer.base + "/organizations",
        json={"name": "Acme"},
        headers=[
            (b"Authorization", f"Bearer {issuer.token}".encode()),
            (b"Idempotency-Key", key.encode()),
        ],
    )
    assert response.status_code == 422
    assert response.json() == invalid(
        ("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
    )
    assert totals(issuer.install) == before
