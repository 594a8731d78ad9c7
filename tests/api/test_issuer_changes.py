"""Issuers after creation: listed from the directory, changed and deleted at home, with their
ETags, events and the directory's mirror kept in step."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.api.conftest import Install
from tests.api.test_graph_support import (
    NOW,
    Issuer,
    account_key,
    events,
    forbidden,
    invalid,
    new_issuer,
    not_found,
    problem,
    query,
)
from tests.conftest import FrozenClock

DEFAULTS = {
    "access_token_lifetime": 3600,
    "id_token_lifetime": 3600,
    "refresh_token_lifetime": 2_592_000,
    "agent_token_lifetime_max": 900,
    "access_token_signing_alg": "ES256",
    "id_token_signing_alg": "RS256",
    "default_audience": None,
}
LATER = "2026-11-29T12:00:05.123Z"
FIXED = (
    "cannot be changed: an issuer's data stays in its jurisdiction for good, and an operator"
    " moves it between regions (`authpi ops issuers place`)"
)


def directory(install: Install, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(install.data_dir / "directory.db")) as db:
        return [tuple(row) for row in db.execute(sql, params).fetchall()]


def state(install: Install) -> tuple[Any, ...]:
    """The issuer rows and events on both sides: what a refused request must not move."""
    return (
        query(install, "SELECT * FROM issuers"),
        query(install, "SELECT COUNT(*) FROM events"),
        directory(install, "SELECT * FROM issuers"),
        directory(install, "SELECT COUNT(*) FROM events"),
    )


async def call(
    install: Install,
    method: str,
    path: str = "",
    body: Any = None,
    *,
    token: str | None = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await install.client.request(
        method,
        f"/v1/accounts/{install.account_id}/issuers{path}",
        json=body,
        params=params,
        headers={**install.auth(token), **(headers or {})},
    )


@pytest.fixture
async def issuer(install: Install) -> Issuer:
    return await new_issuer(install)


async def test_a_patch_changes_name_status_and_settings_everywhere(
    install: Install, issuer: Issuer, clock: FrozenClock
) -> None:
    clock.moment += timedelta(seconds=5)
    body = {
        "name": "Acme Europe",
        "status": "disabled",
        "settings": {"access_token_lifetime": 900, "default_audience": "https://api.acme.com"},
    }
    response = await call(install, "PATCH", f"/{issuer.id}", body, headers={"If-Match": '"1"'})
    assert response.status_code == 200
    settings = {
        **DEFAULTS,
        "access_token_lifetime": 900,
        "default_audience": "https://api.acme.com",
    }
    assert response.json() == {
        "object": "issuer",
        "id": issuer.id,
        "account_id": install.account_id,
        "name": "Acme Europe",
        "status": "disabled",
        "jurisdiction": "eu",
        "home_region": "fra",
        "issuer_url": f"https://id.example.com/{issuer.id}",
        "settings": settings,
        "created_at": NOW,
        "updated_at": LATER,
    }
    assert response.headers["etag"] == '"2"'
    assert events(install)[-2:] == [("issuer.updated", issuer.id), ("issuer.disabled", issuer.id)]
    (data,) = query(install, "SELECT data FROM events WHERE type = 'issuer.updated'")
    assert orjson.loads(data[0])["changed"] == [
        "name",
        "status",
        "settings.access_token_lifetime",
        "settings.default_audience",
    ]
    assert directory(install, "SELECT name, status, version, updated_at FROM issuers") == [
        ("Acme Europe", "disabled", 2, LATER)
    ]
    listed = (await call(install, "GET")).json()
    assert listed == {"object": "list", "data": [response.json()], "next_cursor": None}
    discovery = await install.client.get(f"/{issuer.id}/.well-known/openid-configuration")
    assert discovery.status_code == 404  # a disabled issuer stops resolving at the edge
    enabled = await call(install, "PATCH", f"/{issuer.id}", {"status": "active"})
    assert enabled.json()["status"] == "active"
    assert events(install)[-1] == ("issuer.enabled", issuer.id)


async def test_a_null_setting_goes_back_to_its_default(install: Install, issuer: Issuer) -> None:
    path = f"/{issuer.id}"
    await call(install, "PATCH", path, {"settings": {"id_token_signing_alg": "EdDSA"}})
    response = await call(install, "PATCH", path, {"settings": {"id_token_signing_alg": None}})
    assert response.json()["settings"] == DEFAULTS
    assert query(install, "SELECT settings, version FROM issuers") == [("{}", 3)]


@pytest.mark.parametrize(
    "body", [{}, {"name": "Acme EU"}, {"status": "active", "settings": {"id_token_lifetime": 3600}}]
)
async def test_a_patch_that_changes_nothing_keeps_the_version(
    install: Install, issuer: Issuer, body: dict[str, Any]
) -> None:
    before = state(install)
    response = await call(install, "PATCH", f"/{issuer.id}", body)
    assert (response.status_code, response.headers["etag"]) == (200, '"1"')
    assert state(install) == before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"jurisdiction": "us"}, [("jurisdiction", FIXED)]),
        (
            {"home_region": "ams", "name": ""},
            [("home_region", FIXED), ("name", "must not be empty")],
        ),
        ({"status": "paused"}, [("status", "must be one of: active, disabled")]),
        ({"name": None}, [("name", "must not be null")]),
        (
            {"settings": {"access_token_lifetime": 10, "id_token_signing_alg": "HS256", "x": 1}},
            [
                ("settings.x", "unknown field"),
                ("settings.access_token_lifetime", "must be between 60 and 86400"),
                ("settings.id_token_signing_alg", "must be one of: ES256, RS256, EdDSA"),
            ],
        ),
        (
            {"settings": {"default_audience": "http://api.acme.com"}},
            [("settings.default_audience", "must be an https URL without a fragment")],
        ),
        ({"settings": []}, [("settings", "must be an object, got array")]),
    ],
)  # fmt: skip
async def test_bad_changes_are_precise_422s_and_store_nothing(
    install: Install, issuer: Issuer, body: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    before = state(install)
    response = await call(install, "PATCH", f"/{issuer.id}", body)
    assert (response.status_code, response.json()) == (422, invalid(*errors))
    assert state(install) == before


async def test_a_stale_if_match_is_a_412_and_changes_nothing(
    install: Install, issuer: Issuer
) -> None:
    await call(install, "PATCH", f"/{issuer.id}", {"name": "Acme Europe"})
    before = state(install)
    for method, body in (("PATCH", {"name": "Other"}), ("DELETE", None)):
        response = await call(install, method, f"/{issuer.id}", body, headers={"If-Match": '"1"'})
        assert response.status_code == 412
        assert response.headers["etag"] == '"2"'
        assert response.json() == problem(
            "precondition-failed",
            "Precondition failed",
            412,
            f"{issuer.id} has changed: it is now at version 2",
        )
    assert state(install) == before


async def test_reading_an_issuer_gives_its_etag_and_honours_if_none_match(
    install: Install, issuer: Issuer
) -> None:
    response = await call(install, "GET", f"/{issuer.id}")
    assert response.headers["etag"] == '"1"'
    cached = await call(install, "GET", f"/{issuer.id}", headers={"If-None-Match": '"1"'})
    assert (cached.status_code, cached.headers["etag"]) == (304, '"1"')


async def test_deleting_an_issuer_removes_it_everywhere(install: Install, issuer: Issuer) -> None:
    org = await issuer.organization("Acme")
    await issuer.user("ada@example.com")
    await issuer.post("/organizations", {"name": "Globex"}, headers={"Idempotency-Key": "k"})
    org_key = await issuer.org_key(org["id"], ["organizations:read"])
    keep = await new_issuer(install, name="Other")
    await keep.user("bob@example.com")
    response = await call(install, "DELETE", f"/{issuer.id}", headers={"If-Match": '"1"'})
    assert response.status_code == 204
    for table in ("issuers", "resources", "events", "edge_versions"):
        column = "id" if table == "issuers" else "issuer_id"
        sql = f"SELECT COUNT(*) FROM {table} WHERE {column} = ?"
        assert query(install, sql, (issuer.id,)) == [(0,)]
    assert query(install, "SELECT COUNT(*) FROM idempotency_keys") == [(0,)]
    assert query(install, "SELECT COUNT(*) FROM resources") == [(1,)]  # the other issuer's user
    assert directory(install, "SELECT id FROM issuers") == [(keep.id,)]
    (row,) = directory(
        install, "SELECT type, subject, data FROM events WHERE type = 'issuer.deleted'"
    )
    assert row[:2] == ("issuer.deleted", issuer.id)
    assert orjson.loads(row[2])["name"] == "Acme EU"
    gone = await call(install, "GET", f"/{issuer.id}")
    assert gone.json() == not_found(f"issuer {issuer.id} not found in account {install.account_id}")
    discovery = await install.client.get(f"/{issuer.id}/.well-known/openid-configuration")
    assert discovery.status_code == 404
    assert (await issuer.get("/organizations", token=org_key)).status_code == 401


async def test_issuers_are_listed_by_account_with_a_cursor(install: Install) -> None:
    made = [(await new_issuer(install, name=f"Acme {n}")).id for n in range(3)]
    await call(install, "PATCH", f"/{made[1]}", {"status": "disabled"})
    first = (await call(install, "GET", params=dict(limit=2))).json()
    assert [item["id"] for item in first["data"]] == made[:2]
    assert [item["name"] for item in first["data"]] == ["Acme 0", "Acme 1"]
    rest = (await call(install, "GET", params=dict(limit=2, cursor=first["next_cursor"]))).json()
    assert ([item["id"] for item in rest["data"]], rest["next_cursor"]) == (made[2:], None)
    disabled = (await call(install, "GET", params=dict(status="disabled"))).json()
    assert [item["id"] for item in disabled["data"]] == [made[1]]
    other = f"/v1/accounts/{install.other_account_id}/issuers"
    theirs = await install.client.get(other, headers=install.auth(install.other_token))
    assert theirs.json()["data"] == []
    bad = await call(install, "GET", params=dict(status="gone"))
    assert (bad.status_code, bad.json()["parameter"]) == (400, "status")


async def test_changing_or_deleting_needs_issuers_write(
    install: Install, issuer: Issuer, clock: FrozenClock
) -> None:
    token = await account_key(install, clock, ["issuers:read"])
    before = state(install)
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await call(install, method, f"/{issuer.id}", body, token=token)
        expected = forbidden("this API key lacks the scope issuers:write", scope="issuers:write")
        assert (response.status_code, response.json()) == (403, expected)
    other = f"/v1/accounts/{install.other_account_id}/issuers/{issuer.id}"
    response = await install.client.delete(other, headers=install.auth(install.other_token))
    assert response.json() == not_found(
        f"issuer {issuer.id} not found in account {install.other_account_id}"
    )
    assert state(install) == before
