"""Every kind of the identity graph through the same five operations, then lists and filters.

One contract runs against each kind; the whole representations of each kind follow it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.conftest import Install
from tests.api.test_graph_support import (
    NOW,
    Issuer,
    event_data,
    events,
    invalid,
    new_issuer,
    not_found,
    problem,
    stored_ids,
)

SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Case:
    """Where one kind lives in an issuer, a body that creates it and one that changes it."""

    object: str
    title: str
    path: str
    create: dict[str, Any]
    patch: dict[str, Any] | None
    parent: dict[str, str] = field(default_factory=dict)


Setup = Callable[[Issuer], Awaitable[Case]]


async def users(issuer: Issuer) -> Case:
    return Case("user", "user", "/users", {"email": "ada@example.com"}, {"name": "Ada"})


async def organizations(issuer: Issuer) -> Case:
    return Case(
        "organization", "organization", "/organizations", {"name": "Acme"}, {"name": "Acme Inc"}
    )


async def memberships(issuer: Issuer) -> Case:
    org, user = await issuer.organization("Acme"), await issuer.user("ada@example.com")
    return Case(
        "membership",
        "membership",
        f"/organizations/{org['id']}/memberships",
        {"member_id": user["id"]},
        {"title": "CTO"},
        {"organization_id": org["id"]},
    )


async def invitations(issuer: Issuer) -> Case:
    org = await issuer.organization("Acme")
    return Case(
        "invitation",
        "invitation",
        f"/organizations/{org['id']}/invitations",
        {"email": "bob@example.com"},
        {"scopes": ["tickets:read"]},
        {"organization_id": org["id"]},
    )


async def groups(issuer: Issuer) -> Case:
    org = await issuer.organization("Acme")
    return Case(
        "group",
        "group",
        f"/organizations/{org['id']}/groups",
        {"name": "Admins"},
        {"description": "They hold the keys."},
        {"organization_id": org["id"]},
    )


async def group_members(issuer: Issuer) -> Case:
    org, user = await issuer.organization("Acme"), await issuer.user("ada@example.com")
    await issuer.member(org["id"], user["id"])
    group = await issuer.create(f"/organizations/{org['id']}/groups", {"name": "Admins"})
    return Case(
        "group_member",
        "group member",
        f"/organizations/{org['id']}/groups/{group['id']}/members",
        {"member_id": user["id"]},
        None,
        {"group_id": group["id"]},
    )


async def org_api_keys(issuer: Issuer) -> Case:
    org = await issuer.organization("Acme")
    return Case(
        "org_api_key",
        "organization api key",
        f"/organizations/{org['id']}/api_keys",
        {"name": "ci", "scopes": ["organizations:read"]},
        {"name": "deploy"},
        {"organization_id": org["id"]},
    )


async def clients(issuer: Issuer) -> Case:
    return Case(
        "client", "oauth client", "/clients", {"name": "Billing", "type": "m2m"}, {"name": "Ledger"}
    )


async def agents(issuer: Issuer) -> Case:
    return Case("agent", "agent", "/agents", {"name": "Triage"}, {"token_lifetime": 120})


async def agent_verifiers(issuer: Issuer) -> Case:
    agent = await issuer.agent("Triage")
    return Case(
        "verifier",
        "agent verifier",
        f"/agents/{agent['id']}/verifiers",
        {"type": "public_key", "jwks_uri": "https://triage.example.com/jwks.json"},
        {"name": "2026 keys"},
        {"agent_id": agent["id"]},
    )


async def client_verifiers(issuer: Issuer) -> Case:
    client = await issuer.create("/clients", {"name": "Billing", "type": "m2m"})
    return Case(
        "verifier",
        "client verifier",
        f"/clients/{client['id']}/verifiers",
        {"type": "secret"},
        {"name": "primary"},
        {"client_id": client["id"]},
    )


async def personal_tokens(issuer: Issuer) -> Case:
    user = await issuer.user("ada@example.com")
    return Case(
        "personal_token",
        "personal token",
        f"/users/{user['id']}/personal_tokens",
        {"name": "laptop"},
        {"name": "desktop"},
        {"user_id": user["id"]},
    )


SETUPS = [
    users,
    organizations,
    memberships,
    invitations,
    groups,
    group_members,
    org_api_keys,
    clients,
    agents,
    agent_verifiers,
    client_verifiers,
    personal_tokens,
]
EVENT_PREFIX = {
    "group_member": "group.member",
    "org_api_key": "api_key",
    "agent verifier": "agent.verifier",
    "client verifier": "client.verifier",
}


@pytest.fixture
async def issuer(install: Install) -> Issuer:
    return await new_issuer(install)


def prefix(case: Case) -> str:
    return EVENT_PREFIX.get(case.title, EVENT_PREFIX.get(case.object, case.object))


async def made(issuer: Issuer, setup: Setup) -> tuple[Case, dict[str, Any]]:
    case = await setup(issuer)
    return case, await issuer.create(case.path, case.create)


def public(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "secret"}


# the contract every kind keeps


@pytest.mark.parametrize("setup", SETUPS)
async def test_create_answers_the_representation_its_location_and_etag(
    issuer: Issuer, setup: Setup
) -> None:
    case = await setup(issuer)
    response = await issuer.post(case.path, case.create)
    assert response.status_code == 201
    body = response.json()
    assert body["object"] == case.object
    assert re.fullmatch(r"[a-z]+_[0-9a-z]{26}", body["id"])
    assert {k: body[k] for k in case.parent} == case.parent
    assert {k: body[k] for k in case.create} == case.create
    assert (body["created_at"], body["updated_at"]) == (NOW, NOW)
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"{issuer.base}{case.path}/{body['id']}"
    assert events(issuer.install)[-1] == (f"{prefix(case)}.created", body["id"])


@pytest.mark.parametrize("setup", SETUPS)
async def test_get_reads_back_what_create_answered(issuer: Issuer, setup: Setup) -> None:
    case, created = await made(issuer, setup)
    response = await issuer.get(f"{case.path}/{created['id']}")
    assert response.status_code == 200
    assert response.json() == public(created)
    assert response.headers["etag"] == '"1"'


@pytest.mark.parametrize("setup", SETUPS)
async def test_list_holds_the_created_resource(issuer: Issuer, setup: Setup) -> None:
    case, created = await made(issuer, setup)
    response = await issuer.get(case.path)
    assert response.status_code == 200
    assert response.json() == {"object": "list", "data": [public(created)], "next_cursor": None}


@pytest.mark.parametrize("setup", [s for s in SETUPS if s is not group_members])
async def test_patch_changes_fields_advances_the_version_and_says_what_changed(
    issuer: Issuer, setup: Setup
) -> None:
    case, created = await made(issuer, setup)
    assert case.patch is not None
    response = await issuer.patch(f"{case.path}/{created['id']}", case.patch)
    assert response.status_code == 200
    assert response.json() == {**public(created), **case.patch}
    assert response.headers["etag"] == '"2"'
    assert (await issuer.get(f"{case.path}/{created['id']}")).json() == response.json()
    assert events(issuer.install)[-1] == (f"{prefix(case)}.updated", created["id"])
    data = event_data(issuer.install, f"{prefix(case)}.updated", created["id"])
    assert data["changed"] == sorted(case.patch)


async def test_group_members_are_added_and_removed_never_patched(issuer: Issuer) -> None:
    case, created = await made(issuer, group_members)
    path = f"{issuer.base}{case.path}/{created['id']}"
    response = await issuer.patch(f"{case.path}/{created['id']}", {"member_id": "usr_x"})
    assert response.status_code == 405
    assert response.json() == problem(
        "method-not-allowed", "Method not allowed", 405, f"PATCH is not allowed on {path}"
    )


async def test_a_405_allows_every_method_the_path_has(issuer: Issuer) -> None:
    case, created = await made(issuer, group_members)
    response = await issuer.patch(f"{case.path}/{created['id']}", {})
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}


@pytest.mark.parametrize("setup", SETUPS)
async def test_delete_removes_the_resource_and_says_so(issuer: Issuer, setup: Setup) -> None:
    case, created = await made(issuer, setup)
    response = await issuer.delete(f"{case.path}/{created['id']}")
    assert (response.status_code, response.content) == (204, b"")
    response = await issuer.get(f"{case.path}/{created['id']}")
    assert response.status_code == 404
    assert response.json() == not_found(f"{case.title} {created['id']} not found")
    assert created["id"] not in stored_ids(issuer.install, case.object)
    assert events(issuer.install)[-1] == (f"{prefix(case)}.deleted", created["id"])


@pytest.mark.parametrize("setup", SETUPS)
async def test_an_unknown_id_is_a_404_for_every_item_operation(
    issuer: Issuer, setup: Setup
) -> None:
    case = await setup(issuer)
    path = f"{case.path}/{case.object[:3]}_01jd8k2v6m4q9x7c3n5b8r2t0w"
    expected = not_found(f"{case.title} {case.object[:3]}_01jd8k2v6m4q9x7c3n5b8r2t0w not found")
    for response in [await issuer.get(path), await issuer.delete(path)]:
        assert (response.status_code, response.json()) == (404, expected)
    if case.patch is not None:
        response = await issuer.patch(path, case.patch)
        assert (response.status_code, response.json()) == (404, expected)


# conditional requests


@pytest.mark.parametrize("setup", SETUPS)
async def test_if_none_match_with_the_current_etag_is_a_304(issuer: Issuer, setup: Setup) -> None:
    case, created = await made(issuer, setup)
    path = f"{case.path}/{created['id']}"
    response = await issuer.get(path, headers={"If-None-Match": '"1"'})
    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == '"1"'
    response = await issuer.get(path, headers={"If-None-Match": 'W/"0", "7"'})
    assert response.status_code == 200


@pytest.mark.parametrize("setup", [s for s in SETUPS if s is not group_members])
async def test_a_patch_with_a_stale_if_match_is_a_412_and_changes_nothing(
    issuer: Issuer, setup: Setup
) -> None:
    case, created = await made(issuer, setup)
    assert case.patch is not None
    path = f"{case.path}/{created['id']}"
    response = await issuer.patch(path, case.patch, headers={"If-Match": '"1"'})
    assert (response.status_code, response.headers["etag"]) == (200, '"2"')
    response = await issuer.patch(path, {}, headers={"If-Match": '"1"'})
    assert response.status_code == 412
    assert response.headers["etag"] == '"2"'
    assert response.json() == problem(
        "precondition-failed",
        "Precondition failed",
        412,
        f"{created['id']} has changed: it is now at version 2",
    )
    assert (await issuer.get(path)).headers["etag"] == '"2"'


@pytest.mark.parametrize("setup", SETUPS)
async def test_a_delete_with_a_stale_if_match_is_a_412_and_keeps_it(
    issuer: Issuer, setup: Setup
) -> None:
    case, created = await made(issuer, setup)
    path = f"{case.path}/{created['id']}"
    response = await issuer.delete(path, headers={"If-Match": '"3"'})
    assert response.status_code == 412
    assert response.headers["etag"] == '"1"'
    assert response.json()["detail"] == f"{created['id']} has changed: it is now at version 1"
    assert (await issuer.get(path)).status_code == 200
    response = await issuer.delete(path, headers={"If-Match": '"1"'})
    assert response.status_code == 204


async def test_an_if_match_that_is_no_etag_of_ours_is_a_400(issuer: Issuer) -> None:
    user = await issuer.user("ada@example.com")
    response = await issuer.patch(f"/users/{user['id']}", {}, headers={"If-Match": "v1"})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "If-Match must be \"*\" or an ETag this API returned, got 'v1'"
    )


async def test_an_empty_if_match_matches_no_version_not_an_unconditional_write(
    issuer: Issuer,
) -> None:
    user = await issuer.user("ada@example.com")
    response = await issuer.delete(f"/users/{user['id']}", headers={"If-Match": ""})
    assert response.status_code == 412  # RFC 9110 §13.1.1: it lists no ETag, so none matches
    assert response.headers["etag"] == '"1"'
    assert (await issuer.get(f"/users/{user['id']}")).status_code == 200


# whole representations


async def test_a_user_with_every_default(issuer: Issuer) -> None:
    body = await issuer.user("Ada@Example.COM", name="Ada Lovelace")
    assert body == {
        "object": "user",
        "id": body["id"],
        "email": "ada@example.com",
        "email_verified": False,
        "name": "Ada Lovelace",
        "metadata": {},
        "status": "active",
        "created_at": NOW,
        "updated_at": NOW,
    }
    assert body["id"].startswith("usr_")


async def test_an_organization_with_every_default(issuer: Issuer) -> None:
    body = await issuer.organization("Acme")
    assert body == {
        "object": "organization",
        "id": body["id"],
        "name": "Acme",
        "org_type": "business",
        "custom_fields": {},
        "metadata": {},
        "member_limit": None,
        "status": "active",
        "default_member_scopes": [],
        "verified_domains": [],
        "sso_only": False,
        "mfa_policy": "optional",
        "created_at": NOW,
        "updated_at": NOW,
    }


async def test_a_membership_takes_the_organizations_default_scopes(issuer: Issuer) -> None:
    org = await issuer.organization("Acme", default_member_scopes=["tickets:read"])
    agent = await issuer.agent("Triage")
    body = await issuer.member(org["id"], agent["id"])
    assert body == {
        "object": "membership",
        "id": body["id"],
        "organization_id": org["id"],
        "member_id": agent["id"],
        "scopes": ["tickets:read"],
        "metadata": {},
        "status": "active",
        "member_type": "agent",
        "created_at": NOW,
        "updated_at": NOW,
    }


async def test_an_invitation_is_pending_for_seven_days(issuer: Issuer) -> None:
    org = await issuer.organization("Acme")
    path = f"/organizations/{org['id']}/invitations"
    body = await issuer.create(path, {"email": "Bob@Example.com"})
    assert body == {
        "object": "invitation",
        "id": body["id"],
        "organization_id": org["id"],
        "email": "bob@example.com",
        "expires_at": "2026-12-06T12:00:00.123Z",
        "status": "pending",
        "created_at": NOW,
        "updated_at": NOW,
    }


async def test_an_invitation_keeps_the_expiry_it_was_given_in_utc(issuer: Issuer) -> None:
    org = await issuer.organization("Acme")
    path = f"/organizations/{org['id']}/invitations"
    body = await issuer.create(
        path, {"email": "b@example.com", "expires_at": "2027-01-01T01:00:00+01:00"}
    )
    assert body["expires_at"] == "2027-01-01T00:00:00.000Z"


async def test_clients_get_the_grants_of_their_type(issuer: Issuer) -> None:
    m2m = await issuer.create("/clients", {"name": "Billing", "type": "m2m"})
    assert m2m == {
        "object": "client",
        "id": m2m["id"],
        "name": "Billing",
        "type": "m2m",
        "redirect_uris": [],
        "grant_types": ["client_credentials"],
        "scopes": [],
        "access_token_lifetime": 3600,
        "status": "active",
        "metadata": {},
        "created_at": NOW,
        "updated_at": NOW,
    }
    spa = await issuer.create(
        "/clients",
        {"name": "App", "type": "spa", "redirect_uris": ["https://app.example.com/cb"]},
    )
    assert spa["grant_types"] == ["authorization_code", "refresh_token"]
    assert spa["id"].startswith("c_")


async def test_an_agent_with_every_default(issuer: Issuer) -> None:
    body = await issuer.agent("Triage", description="Sorts tickets.")
    assert body == {
        "object": "agent",
        "id": body["id"],
        "name": "Triage",
        "description": "Sorts tickets.",
        "scopes": [],
        "token_lifetime": 300,
        "status": "active",
        "metadata": {},
        "created_at": NOW,
        "updated_at": NOW,
    }


async def test_an_org_api_key_shows_its_secret_once(issuer: Issuer) -> None:
    org = await issuer.organization("Acme")
    path = f"/organizations/{org['id']}/api_keys"
    body = await issuer.create(path, {"name": "ci", "scopes": ["organizations:read"]})
    key_id, _, secret = body.pop("secret").partition(".")
    assert (key_id, SECRET.match(secret) is not None) == (body["id"], True)
    assert body == {
        "object": "org_api_key",
        "id": key_id,
        "organization_id": org["id"],
        "name": "ci",
        "scopes": ["organizations:read"],
        "ip_allowlist": [],
        "expires_at": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    assert "secret" not in (await issuer.get(f"{path}/{key_id}")).json()
    assert "secret" not in event_data(issuer.install, "api_key.created", key_id)


async def test_a_personal_token_shows_its_secret_once(issuer: Issuer) -> None:
    user = await issuer.user("ada@example.com")
    path = f"/users/{user['id']}/personal_tokens"
    body = await issuer.create(path, {"name": "laptop", "scopes": ["tickets:read"]})
    token_id, _, secret = body.pop("secret").partition(".")
    assert token_id == body["id"]
    assert token_id.startswith("ptk_")
    assert SECRET.match(secret)
    assert body == {
        "object": "personal_token",
        "id": token_id,
        "user_id": user["id"],
        "name": "laptop",
        "scopes": ["tickets:read"],
        "expires_at": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    assert "secret" not in (await issuer.get(f"{path}/{token_id}")).json()


async def test_a_secret_verifier_shows_the_bare_secret_once(issuer: Issuer) -> None:
    agent = await issuer.agent("Triage")
    path = f"/agents/{agent['id']}/verifiers"
    body = await issuer.create(path, {"type": "secret", "name": "ci"})
    assert SECRET.match(body.pop("secret"))
    assert body == {
        "object": "verifier",
        "id": body["id"],
        "agent_id": agent["id"],
        "type": "secret",
        "name": "ci",
        "created_at": NOW,
        "updated_at": NOW,
    }
    assert body["id"].startswith("ver_")
    assert (await issuer.get(f"{path}/{body['id']}")).json() == body


async def test_a_public_key_verifier_keeps_its_jwk(issuer: Issuer) -> None:
    client = await issuer.create("/clients", {"name": "Billing", "type": "m2m"})
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    path = f"/clients/{client['id']}/verifiers"
    body = await issuer.create(path, {"type": "public_key", "jwk": jwk})
    assert body == {
        "object": "verifier",
        "id": body["id"],
        "client_id": client["id"],
        "type": "public_key",
        "jwk": jwk,
        "created_at": NOW,
        "updated_at": NOW,
    }


# PATCH semantics


async def test_patching_a_status_says_what_it_means(issuer: Issuer) -> None:
    user = await issuer.user("ada@example.com")
    response = await issuer.patch(f"/users/{user['id']}", {"status": "blocked"})
    assert response.json()["status"] == "blocked"
    response = await issuer.patch(f"/users/{user['id']}", {"status": "active"})
    assert response.headers["etag"] == '"3"'
    assert events(issuer.install)[-4:] == [
        ("user.updated", user["id"]),
        ("user.blocked", user["id"]),
        ("user.updated", user["id"]),
        ("user.unblocked", user["id"]),
    ]


async def test_an_immutable_field_cannot_be_patched(issuer: Issuer) -> None:
    client = await issuer.create("/clients", {"name": "Billing", "type": "m2m"})
    response = await issuer.patch(f"/clients/{client['id']}", {"type": "web"})
    assert response.status_code == 422
    assert response.json() == invalid(("type", "cannot be changed after creation"))


@pytest.mark.parametrize("body", [{}, {"name": "Ada"}, {"name": "Ada", "status": "active"}])
async def test_a_patch_that_changes_nothing_keeps_the_version_and_emits_nothing(
    issuer: Issuer, body: dict[str, Any]
) -> None:
    user = await issuer.user("ada@example.com", name="Ada")
    before = events(issuer.install)
    response = await issuer.patch(f"/users/{user['id']}", body, headers={"If-Match": '"1"'})
    assert (response.status_code, response.json()) == (200, user)
    assert response.headers["etag"] == '"1"'
    assert events(issuer.install) == before


async def test_a_patch_that_changes_nothing_still_checks_if_match(issuer: Issuer) -> None:
    user = await issuer.user("ada@example.com", name="Ada")
    await issuer.patch(f"/users/{user['id']}", {"name": "Ada L."})
    response = await issuer.patch(
        f"/users/{user['id']}", {"name": "Ada L."}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 412
    assert response.headers["etag"] == '"2"'


async def test_a_null_resets_an_optional_field_to_its_default(issuer: Issuer) -> None:
    org = await issuer.organization("Acme", member_limit=5, metadata={"plan": "pro"})
    response = await issuer.patch(
        f"/organizations/{org['id']}", {"member_limit": None, "metadata": None}
    )
    assert response.status_code == 200
    assert response.json() == {
        **org,
        "member_limit": None,
        "metadata": {},
        "updated_at": NOW,
    }


async def test_a_null_cannot_remove_a_required_field(issuer: Issuer) -> None:
    user = await issuer.user("ada@example.com", name="Ada")
    response = await issuer.patch(f"/users/{user['id']}", {"email": None, "status": None})
    assert response.status_code == 422
    assert response.json() == invalid(("email", "must not be null"))


async def test_a_patch_to_a_taken_email_is_a_409(issuer: Issuer) -> None:
    await issuer.user("ada@example.com")
    bob = await issuer.user("bob@example.com")
    response = await issuer.patch(f"/users/{bob['id']}", {"email": "ADA@example.com"})
    assert response.status_code == 409
    assert response.json() == problem(
        "conflict", "Conflict", 409, "a user with this email already exists in the issuer"
    )


# lists


async def fetch_all(issuer: Issuer, path: str, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    params: dict[str, str | int] = {"limit": limit}
    while True:
        body = (await issuer.get(path, params=params)).json()
        pages.append([item["id"] for item in body["data"]])
        if body["next_cursor"] is None:
            return pages
        params["cursor"] = body["next_cursor"]


async def test_pages_of_ten_hold_every_user_once_in_creation_order(issuer: Issuer) -> None:
    created = [(await issuer.user(f"u{n}@example.com"))["id"] for n in range(25)]
    pages = await fetch_all(issuer, "/users", 10)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [user for page in pages for user in page] == created


async def test_a_page_that_ends_the_list_exactly_has_no_cursor(issuer: Issuer) -> None:
    for n in range(10):
        await issuer.user(f"u{n}@example.com")
    assert [len(page) for page in await fetch_all(issuer, "/users", 10)] == [10]


async def test_users_created_between_pages_neither_shift_nor_repeat_them(issuer: Issuer) -> None:
    created = [(await issuer.user(f"u{n}@example.com"))["id"] for n in range(25)]
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 10}
    for n in range(10):
        body = (await issuer.get("/users", params=params)).json()
        seen += [item["id"] for item in body["data"]]
        created.append((await issuer.user(f"late{n}@example.com"))["id"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == created[: len(seen)]
    assert len(seen) == len(set(seen)) >= 25


async def test_a_cursor_survives_the_deletion_of_its_last_item(issuer: Issuer) -> None:
    created = [(await issuer.user(f"u{n}@example.com"))["id"] for n in range(6)]
    first = (await issuer.get("/users", params={"limit": 3})).json()
    await issuer.delete(f"/users/{created[2]}")
    await issuer.delete(f"/users/{created[3]}")
    params = {"limit": 3, "cursor": first["next_cursor"]}
    second = (await issuer.get("/users", params=params)).json()
    assert [user["id"] for user in second["data"]] == created[4:]
    assert second["next_cursor"] is None


async def test_lists_filter_by_email_and_status(issuer: Issuer) -> None:
    ada = await issuer.user("ada@example.com")
    bob = await issuer.user("bob@example.com", status="blocked")
    await issuer.user("eve@example.com")
    by_email = (await issuer.get("/users", params={"email": "bob@example.com"})).json()
    assert by_email == {"object": "list", "data": [bob], "next_cursor": None}
    active = (await issuer.get("/users", params={"status": "active", "limit": 1})).json()
    assert [user["id"] for user in active["data"]] == [ada["id"]]
    assert active["next_cursor"] is not None
    nobody = (await issuer.get("/users", params={"email": "zed@example.com"})).json()
    assert nobody["data"] == []


@pytest.mark.parametrize(
    ("path", "params", "name", "allowed"),
    [
        ("/users", {"status": "Blocked"}, "status", ["active", "blocked"]),
        ("/clients", {"type": "m3m"}, "type", ["m2m", "web", "spa", "native"]),
        (
            "/organizations",
            {"org_type": "corp", "status": "active"},
            "org_type",
            ["business", "education", "government", "nonprofit", "personal", "other"],
        ),
    ],
)
async def test_a_filter_value_outside_its_values_is_a_400_naming_it(
    issuer: Issuer, path: str, params: dict[str, str], name: str, allowed: list[str]
) -> None:
    response = await issuer.get(path, params=params)
    assert response.status_code == 400
    assert response.json() == problem(
        "invalid-query-parameter",
        "Invalid query parameter",
        400,
        f"{name} must be one of: {', '.join(allowed)}",
        parameter=name,
        allowed=allowed,
    )


async def test_invitations_filter_by_the_status_the_api_sets(issuer: Issuer) -> None:
    org = await issuer.organization("Acme")
    path = f"/organizations/{org['id']}/invitations"
    invitation = await issuer.create(path, {"email": "bob@example.com"})
    pending = (await issuer.get(path, params={"status": "pending"})).json()
    assert [item["id"] for item in pending["data"]] == [invitation["id"]]
    assert (await issuer.get(path, params={"status": "accepted"})).json()["data"] == []
    response = await issuer.get(path, params={"status": "expired"})
    assert response.status_code == 400
    assert response.json()["parameter"] == "status"


async def test_the_email_filter_ignores_case_as_emails_do(issuer: Issuer) -> None:
    ada = await issuer.user("ada@example.com")
    body = (await issuer.get("/users", params={"email": "Ada@Example.com"})).json()
    assert body["data"] == [ada]


async def test_children_are_listed_under_their_parent_only(issuer: Issuer) -> None:
    acme, globex = await issuer.organization("Acme"), await issuer.organization("Globex")
    user = await issuer.user("ada@example.com")
    mine = await issuer.member(acme["id"], user["id"])
    await issuer.member(globex["id"], user["id"])
    body = (await issuer.get(f"/organizations/{acme['id']}/memberships")).json()
    assert [m["id"] for m in body["data"]] == [mine["id"]]
    body = (await issuer.get(f"/organizations/{acme['id']}/memberships/{mine['id']}")).json()
    assert body == mine
    response = await issuer.get(f"/organizations/{globex['id']}/memberships/{mine['id']}")
    assert response.json() == not_found(f"membership {mine['id']} not found")


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"colour": "red"}, [("colour", "unknown query parameter")]),
        ({"member_id": "usr_x"}, [("member_id", "unknown query parameter")]),
        ({"limit": "0"}, [("limit", "must be an integer from 1 to 100")]),
        ({"limit": "101"}, [("limit", "must be an integer from 1 to 100")]),
        ({"limit": "ten"}, [("limit", "must be an integer from 1 to 100")]),
        ({"cursor": "bm9wZQ"}, [("cursor", "is not a cursor this API returned")]),
        (
            {"limit": "-1", "sort": "name"},
            [("sort", "unknown query parameter"), ("limit", "must be an integer from 1 to 100")],
        ),
    ],
)
async def test_a_bad_list_query_is_a_422(
    issuer: Issuer, params: dict[str, str], errors: list[tuple[str, str]]
) -> None:
    response = await issuer.get("/users", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == invalid(*errors)
