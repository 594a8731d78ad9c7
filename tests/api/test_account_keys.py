"""Account API keys: CRUD at the primary, scopes that never widen, revocation, no lockout,
idempotency, ETags, events in the directory's outbox, and `last_used_at` batched."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.api.conftest import Install
from tests.api.test_graph_support import NOW, account_key, forbidden, invalid, not_found, problem
from tests.conftest import FrozenClock

TOKEN = re.compile(r"^key_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$")


def directory(install: Install, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows read straight from the directory's file."""
    with contextlib.closing(sqlite3.connect(install.data_dir / "directory.db")) as db:
        return [tuple(row) for row in db.execute(sql, params).fetchall()]


def key_events(install: Install) -> list[tuple[str, str]]:
    rows = directory(install, "SELECT type, subject FROM events WHERE type LIKE 'api_key.%'")
    return [(row[0], row[1]) for row in rows]


def state(install: Install) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    """Every key row and key event: what a refused request must not move."""
    return directory(install, "SELECT * FROM api_keys ORDER BY id"), key_events(install)


async def call(
    install: Install,
    method: str,
    path: str = "",
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    return await install.client.request(
        method,
        f"/v1/accounts/{install.account_id}/api_keys{path}",
        json=body,
        params=params,
        headers={**install.auth(token), **(headers or {})},
    )


async def create(install: Install, body: Any, **options: Any) -> dict[str, Any]:
    response = await call(install, "POST", "", body, **options)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def first_key(install: Install) -> str:
    return install.token.split(".")[0]


async def test_a_key_is_created_shown_once_and_stored_as_a_digest(install: Install) -> None:
    body = {
        "name": "ci",
        "scopes": ["issuers:read", "users:write"],
        "ip_allowlist": ["203.0.113.0/24"],
        "expires_at": "2027-01-31T12:00:00Z",
    }
    response = await call(install, "POST", "", body)
    assert response.status_code == 201
    created = response.json()
    assert TOKEN.match(created.pop("secret"))
    assert created == {
        "object": "api_key",
        "id": created["id"],
        "account_id": install.account_id,
        "name": "ci",
        "scopes": ["issuers:read", "users:write"],
        "ip_allowlist": ["203.0.113.0/24"],
        "expires_at": "2027-01-31T12:00:00.000Z",
        "status": "active",
        "last_used_at": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    assert response.headers["etag"] == '"1"'
    path = f"/v1/accounts/{install.account_id}/api_keys/{created['id']}"
    assert response.headers["location"] == path
    assert key_events(install)[-1] == ("api_key.created", created["id"])
    (data,) = directory(install, "SELECT data FROM events WHERE subject = ?", (created["id"],))
    assert orjson.loads(data[0]) == {
        "id": created["id"],
        "account_id": install.account_id,
        "name": "ci",
        "scopes": ["issuers:read", "users:write"],
        "ip_allowlist": ["203.0.113.0/24"],
        "expires_at": "2027-01-31T12:00:00.000Z",
        "status": "active",
    }
    secret = response.json()["secret"].split(".")[1]
    files = [install.data_dir / "directory.db", install.data_dir / "directory.db-wal"]
    assert all(secret.encode() not in path.read_bytes() for path in files if path.exists())


async def test_the_new_key_works_at_once_and_can_be_read_back(install: Install) -> None:
    response = await call(install, "POST", "", {"name": "reader", "scopes": ["api_keys:read"]})
    created = response.json()
    token = created.pop("secret")
    again = await call(install, "GET", f"/{created['id']}", token=token)
    assert (again.status_code, again.json()) == (200, created)
    assert again.headers["etag"] == '"1"'
    cached = await call(install, "GET", f"/{created['id']}", headers={"If-None-Match": '"1"'})
    assert (cached.status_code, cached.content) == (304, b"")


async def test_lists_page_with_a_cursor_and_filter_by_status(install: Install) -> None:
    made = [(await create(install, {"name": f"k{n}", "scopes": []}))["id"] for n in range(3)]
    await call(install, "DELETE", f"/{made[1]}")
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await call(install, "GET", params=params)).json()
        seen += [key["id"] for key in page["data"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [first_key(install), *made]
    revoked = (await call(install, "GET", params={"status": "revoked"})).json()
    assert [key["id"] for key in revoked["data"]] == [made[1]]
    response = await call(install, "GET", params={"status": "expired"})
    assert response.status_code == 400
    assert response.json() == problem(
        "invalid-query-parameter",
        "Invalid query parameter",
        400,
        "status must be one of: active, revoked",
        parameter="status",
        allowed=["active", "revoked"],
    )


async def test_a_patch_changes_what_it_names_and_says_what_changed(install: Install) -> None:
    key = await create(install, {"name": "ci", "scopes": ["users:read"]})
    key.pop("secret")
    response = await call(
        install,
        "PATCH",
        f"/{key['id']}",
        {"name": "deploy", "ip_allowlist": ["10.0.0.1"]},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 200
    assert response.json() == {**key, "name": "deploy", "ip_allowlist": ["10.0.0.1"]}
    assert response.headers["etag"] == '"2"'
    assert key_events(install)[-1] == ("api_key.updated", key["id"])
    rows = directory(install, "SELECT data FROM events ORDER BY seq DESC LIMIT 1")
    assert orjson.loads(rows[0][0])["changed"] == ["ip_allowlist", "name"]


@pytest.mark.parametrize(
    "body", [{}, {"name": "ci"}, {"scopes": ["users:read"], "status": "active"}]
)
async def test_a_patch_that_changes_nothing_keeps_the_version(
    install: Install, body: dict[str, Any]
) -> None:
    key = await create(install, {"name": "ci", "scopes": ["users:read"]})
    before = state(install)
    response = await call(install, "PATCH", f"/{key['id']}", body)
    assert (response.status_code, response.headers["etag"]) == (200, '"1"')
    assert state(install) == before


async def test_a_stale_if_match_is_a_412_and_changes_nothing(install: Install) -> None:
    key = await create(install, {"name": "ci", "scopes": ["users:read"]})
    await call(install, "PATCH", f"/{key['id']}", {"name": "deploy"})
    before = state(install)
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await call(install, method, f"/{key['id']}", body, headers={"If-Match": '"1"'})
        assert response.status_code == 412
        assert response.headers["etag"] == '"2"'
        assert response.json() == problem(
            "precondition-failed",
            "Precondition failed",
            412,
            f"{key['id']} has changed: it is now at version 2",
        )
    assert state(install) == before


async def test_revoking_a_key_stops_it_at_once_and_for_good(install: Install) -> None:
    key = await create(install, {"name": "ci", "scopes": ["api_keys:read"]})
    response = await call(install, "DELETE", f"/{key['id']}")
    assert response.status_code == 204
    assert key_events(install)[-1] == ("api_key.revoked", key["id"])
    refused = await call(install, "GET", token=key["secret"])
    assert refused.status_code == 401
    assert refused.json() == problem(
        "unauthenticated", "Unauthenticated", 401, "the API key has been revoked"
    )
    listed = (await call(install, "GET", f"/{key['id']}")).json()
    assert (listed["status"], listed["updated_at"]) == ("revoked", NOW)
    before = state(install)
    assert (await call(install, "DELETE", f"/{key['id']}")).status_code == 204
    back = await call(install, "PATCH", f"/{key['id']}", {"status": "active"})
    assert back.status_code == 409
    assert back.json() == problem(
        "api-key-revoked",
        "API key revoked",
        409,
        f"API key {key['id']} is revoked; a revoked key stays revoked",
    )
    assert state(install) == before


async def test_a_patch_to_revoked_revokes_and_says_both(install: Install) -> None:
    key = await create(install, {"name": "ci", "scopes": ["users:read"]})
    response = await call(install, "PATCH", f"/{key['id']}", {"status": "revoked"})
    assert response.json()["status"] == "revoked"
    assert key_events(install)[-2:] == [
        ("api_key.updated", key["id"]),
        ("api_key.revoked", key["id"]),
    ]


async def test_the_last_managing_key_cannot_lock_the_account_out(install: Install) -> None:
    before = state(install)
    own = first_key(install)
    response = await call(install, "DELETE", f"/{own}")
    assert response.status_code == 409
    assert response.json() == problem(
        "would-lock-out",
        "Would lock the account out",
        409,
        f"this would leave account {install.account_id} without an active API key that can"
        " manage API keys (`*` or `api_keys:write`); create one first",
    )
    narrowed = await call(install, "PATCH", f"/{own}", {"scopes": ["users:read"]})
    assert narrowed.status_code == 409
    assert state(install) == before
    await create(install, {"name": "admin", "scopes": ["api_keys:write"]})
    assert (await call(install, "DELETE", f"/{own}")).status_code == 204
    assert (await call(install, "GET")).status_code == 401


async def test_a_key_grants_and_manages_only_scopes_it_holds(
    install: Install, clock: FrozenClock
) -> None:
    limited = await account_key(install, clock, ["api_keys:write", "api_keys:read", "users:read"])
    before = state(install)
    for scopes in (["*"], ["users:read", "users:write"]):
        response = await call(install, "POST", "", {"name": "x", "scopes": scopes}, token=limited)
        assert response.status_code == 403
    assert response.json() == forbidden(
        "this API key cannot grant scopes it does not hold: users:write"
    )
    own = first_key(install)
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await call(install, method, f"/{own}", body, token=limited)
        assert response.status_code == 403
        assert response.json() == forbidden(
            f"this API key cannot manage {own}, which holds scopes it does not: *"
        )
    assert state(install) == before
    child = await create(install, {"name": "child", "scopes": ["users:read"]}, token=limited)
    widened = await call(
        install, "PATCH", f"/{child['id']}", {"scopes": ["users:write"]}, token=limited
    )
    assert widened.status_code == 403
    assert (await call(install, "DELETE", f"/{child['id']}", token=limited)).status_code == 204


async def test_reading_and_writing_need_their_scopes(install: Install, clock: FrozenClock) -> None:
    token = await account_key(install, clock, ["issuers:read"])
    for method in ("GET", "POST"):
        response = await call(install, method, "", {"name": "x", "scopes": []}, token=token)
        assert response.status_code == 403
        scope = "api_keys:read" if method == "GET" else "api_keys:write"
        assert response.json() == forbidden(f"this API key lacks the scope {scope}", scope=scope)


async def test_another_accounts_keys_are_out_of_reach(install: Install) -> None:
    key = await create(install, {"name": "ci", "scopes": ["users:read"]})
    other = f"/v1/accounts/{install.other_account_id}/api_keys/{key['id']}"
    response = await install.client.get(other, headers=install.auth(install.other_token))
    assert response.json() == not_found(f"api key {key['id']} not found")
    mine = f"/v1/accounts/{install.account_id}/api_keys"
    response = await install.client.get(mine, headers=install.auth(install.other_token))
    assert response.status_code == 403
    assert (await call(install, "GET", "/key_nope")).json() == not_found(
        "api key key_nope not found"
    )


async def test_an_idempotency_key_replays_the_create_without_the_secret(install: Install) -> None:
    body = {"name": "ci", "scopes": ["users:read"]}
    headers = {"Idempotency-Key": "k-1"}
    first = await call(install, "POST", "", body, headers=headers)
    again = await call(install, "POST", "", body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotency-replayed"] == "true"
    assert again.json() == {k: v for k, v in first.json().items() if k != "secret"}
    created = [subject for type, subject in key_events(install) if type == "api_key.created"]
    assert created[-1] == first.json()["id"]
    assert len(created) == 3  # with the first keys of both accounts
    before = state(install)
    other = await call(install, "POST", "", {**body, "name": "cd"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "https://authpi.dev/problems/idempotency-key-reused"
    assert state(install) == before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"scopes": []}, [("name", "is required")]),
        (
            {"name": "x", "scopes": ["a b"], "ip_allowlist": ["10.0.0.0/33"]},
            [
                ("scopes", "item 0 must be a scope: visible ASCII without spaces, quotes or"
                 " backslashes"),
                ("ip_allowlist", "item 0 must be an IP address or a range such as 203.0.113.0/24"
                 " or 2001:db8::/32"),
            ],
        ),
        ({"name": "x", "scopes": [], "status": "active"}, [("status", "unknown field")]),
    ],
)  # fmt: skip
async def test_bad_input_is_a_422_and_stores_nothing(
    install: Install, body: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    before = state(install)
    response = await call(install, "POST", "", body)
    assert (response.status_code, response.json()) == (422, invalid(*errors))
    assert state(install) == before


async def test_last_used_at_is_batched_and_moves_at_most_once_a_minute(
    install: Install, clock: FrozenClock
) -> None:
    key = await create(install, {"name": "reader", "scopes": ["api_keys:read"]})
    path = f"/{key['id']}"
    await call(install, "GET", path, token=key["secret"])
    assert (await call(install, "GET", path)).json()["last_used_at"] is None  # not yet flushed
    await install.node.flush_key_usage()
    response = await call(install, "GET", path)
    assert (response.json()["last_used_at"], response.headers["etag"]) == (NOW, '"1"')
    start = clock.moment
    for seconds, expected in ((30, NOW), (61, "2026-11-29T12:01:01.123Z")):
        clock.moment = start + timedelta(seconds=seconds)
        await call(install, "GET", path, token=key["secret"])
        await install.node.flush_key_usage()
        assert (await call(install, "GET", path)).json()["last_used_at"] == expected
