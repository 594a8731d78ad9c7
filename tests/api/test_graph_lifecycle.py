"""The graph's rules over time: status events, cascades on delete, membership rules, and the
outbox written in the same shard and transaction as every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from typing import Any

import orjson
import pytest

from tests.api.conftest import Install
from tests.api.test_graph_support import (
    NOW,
    Issuer,
    event_data,
    events,
    invalid,
    new_issuer,
    problem,
    query,
    stored_ids,
    totals,
)


@pytest.fixture
async def issuer(install: Install) -> Issuer:
    return await new_issuer(install)


def ids(*resources: dict[str, Any]) -> set[str]:
    return {resource["id"] for resource in resources}


def remaining(install: Install, candidates: set[str]) -> set[str]:
    marks = ",".join("?" * len(candidates))
    rows = query(install, f"SELECT id FROM resources WHERE id IN ({marks})", tuple(candidates))
    return {row[0] for row in rows}


# status transitions


async def test_suspending_an_organization_says_so(issuer: Issuer) -> None:
    org = await issuer.organization("Acme")
    response = await issuer.patch(f"/organizations/{org['id']}", {"status": "suspended"})
    assert response.status_code == 200
    assert events(issuer.install)[-2:] == [
        ("organization.updated", org["id"]),
        ("organization.suspended", org["id"]),
    ]
    assert event_data(issuer.install, "organization.updated", org["id"])["changed"] == ["status"]
    await issuer.patch(f"/organizations/{org['id']}", {"status": "active"})
    assert events(issuer.install)[-1] == ("organization.reactivated", org["id"])


async def test_an_unchanged_status_emits_no_transition(issuer: Issuer) -> None:
    org = await issuer.organization("Acme", status="suspended")
    await issuer.patch(f"/organizations/{org['id']}", {"status": "suspended", "name": "Acme 2"})
    assert [type for type, _ in events(issuer.install)][-2:] == [
        "organization.created",
        "organization.updated",
    ]


async def test_disabling_an_agent_says_so(issuer: Issuer) -> None:
    agent = await issuer.agent("Triage")
    await issuer.patch(f"/agents/{agent['id']}", {"status": "disabled"})
    await issuer.patch(f"/agents/{agent['id']}", {"status": "active"})
    assert events(issuer.install)[-4:] == [
        ("agent.updated", agent["id"]),
        ("agent.disabled", agent["id"]),
        ("agent.updated", agent["id"]),
        ("agent.enabled", agent["id"]),
    ]
    assert event_data(issuer.install, "agent.disabled", agent["id"])["status"] == "disabled"


async def test_suspending_a_membership_and_disabling_a_client_say_so(issuer: Issuer) -> None:
    org, user = await issuer.organization("Acme"), await issuer.user("ada@example.com")
    membership = await issuer.member(org["id"], user["id"])
    client = await issuer.create("/clients", {"name": "Billing", "type": "m2m"})
    await issuer.patch(
        f"/organizations/{org['id']}/memberships/{membership['id']}", {"status": "suspended"}
    )
    await issuer.patch(f"/clients/{client['id']}", {"status": "disabled"})
    assert ("membership.suspended", membership["id"]) in events(issuer.install)
    assert events(issuer.install)[-1] == ("client.disabled", client["id"])


# cascades


async def test_deleting_an_organization_takes_everything_in_it(issuer: Issuer) -> None:
    org, other = await issuer.organization("Acme"), await issuer.organization("Globex")
    ada, bot = await issuer.user("ada@example.com"), await issuer.agent("Triage")
    member = await issuer.member(org["id"], ada["id"])
    bot_member = await issuer.member(org["id"], bot["id"])
    group = await issuer.create(f"/organizations/{org['id']}/groups", {"name": "Admins"})
    in_group = await issuer.create(
        f"/organizations/{org['id']}/groups/{group['id']}/members", {"member_id": ada["id"]}
    )
    invitation = await issuer.create(
        f"/organizations/{org['id']}/invitations", {"email": "bob@example.com"}
    )
    key = await issuer.create(
        f"/organizations/{org['id']}/api_keys", {"name": "ci", "scopes": ["*"]}
    )
    kept = await issuer.member(other["id"], ada["id"])
    response = await issuer.delete(f"/organizations/{org['id']}")
    assert response.status_code == 204
    gone = ids(org, member, bot_member, group, in_group, invitation, key)
    assert remaining(issuer.install, gone) == set()
    assert remaining(issuer.install, ids(other, ada, bot, kept)) == ids(other, ada, bot, kept)
    cascade = events(issuer.install)[-7:]
    assert cascade[:2] == [
        ("group.member.deleted", in_group["id"]),
        ("group.deleted", group["id"]),
    ]
    assert sorted(cascade[2:6]) == [
        ("api_key.deleted", key["id"]),
        ("invitation.deleted", invitation["id"]),
        ("membership.deleted", member["id"]),
        ("membership.deleted", bot_member["id"]),
    ]
    assert cascade[6] == ("organization.deleted", org["id"])
    response = await issuer.get(f"/organizations/{org['id']}", token=key["secret"])
    assert response.status_code == 401


async def test_a_cascade_event_carries_what_was_deleted(issuer: Issuer) -> None:
    org, ada = await issuer.organization("Acme"), await issuer.user("ada@example.com")
    member = await issuer.member(org["id"], ada["id"])
    await issuer.delete(f"/organizations/{org['id']}")
    assert event_data(issuer.install, "membership.deleted", member["id"]) == {
        "id": member["id"],
        "member_id": ada["id"],
        "scopes": [],
        "metadata": {},
        "status": "active",
        "member_type": "user",
        "parent_id": org["id"],
    }


async def test_deleting_a_user_takes_their_memberships_and_tokens(issuer: Issuer) -> None:
    acme, globex = await issuer.organization("Acme"), await issuer.organization("Globex")
    ada, bob = await issuer.user("ada@example.com"), await issuer.user("bob@example.com")
    memberships = [
        await issuer.member(o["id"], u["id"]) for o in (acme, globex) for u in (ada, bob)
    ]
    group = await issuer.create(f"/organizations/{acme['id']}/groups", {"name": "Admins"})
    path = f"/organizations/{acme['id']}/groups/{group['id']}/members"
    ada_in_group = await issuer.create(path, {"member_id": ada["id"]})
    bob_in_group = await issuer.create(path, {"member_id": bob["id"]})
    token = await issuer.create(f"/users/{ada['id']}/personal_tokens", {"name": "laptop"})
    bob_token = await issuer.create(f"/users/{bob['id']}/personal_tokens", {"name": "laptop"})
    assert (await issuer.delete(f"/users/{ada['id']}")).status_code == 204
    gone = ids(ada, memberships[0], memberships[2], ada_in_group, token)
    assert remaining(issuer.install, gone) == set()
    kept = ids(bob, memberships[1], memberships[3], group, bob_in_group, bob_token)
    assert remaining(issuer.install, kept) == kept
    assert events(issuer.install)[-5:] == [
        ("personal_token.deleted", token["id"]),
        ("group.member.deleted", ada_in_group["id"]),
        ("membership.deleted", memberships[0]["id"]),
        ("membership.deleted", memberships[2]["id"]),
        ("user.deleted", ada["id"]),
    ]


async def test_deleting_an_agent_takes_its_verifiers_and_memberships(issuer: Issuer) -> None:
    org, bot = await issuer.organization("Acme"), await issuer.agent("Triage")
    other = await issuer.agent("Scribe")
    member = await issuer.member(org["id"], bot["id"])
    secret = await issuer.create(f"/agents/{bot['id']}/verifiers", {"type": "secret"})
    keys = await issuer.create(
        f"/agents/{bot['id']}/verifiers",
        {"type": "public_key", "jwks_uri": "https://triage.example.com/jwks.json"},
    )
    kept = await issuer.create(f"/agents/{other['id']}/verifiers", {"type": "secret"})
    assert (await issuer.delete(f"/agents/{bot['id']}")).status_code == 204
    assert remaining(issuer.install, ids(bot, member, secret, keys)) == set()
    assert remaining(issuer.install, ids(org, other, kept)) == ids(org, other, kept)
    assert events(issuer.install)[-4:] == [
        ("agent.verifier.deleted", secret["id"]),
        ("agent.verifier.deleted", keys["id"]),
        ("membership.deleted", member["id"]),
        ("agent.deleted", bot["id"]),
    ]


async def test_deleting_a_client_takes_its_verifiers(issuer: Issuer) -> None:
    client = await issuer.create("/clients", {"name": "Billing", "type": "m2m"})
    verifier = await issuer.create(f"/clients/{client['id']}/verifiers", {"type": "secret"})
    assert (await issuer.delete(f"/clients/{client['id']}")).status_code == 204
    assert stored_ids(issuer.install, "verifier") == []
    assert events(issuer.install)[-2:] == [
        ("client.verifier.deleted", verifier["id"]),
        ("client.deleted", client["id"]),
    ]


async def test_leaving_an_organization_leaves_its_groups_only(issuer: Issuer) -> None:
    acme, globex = await issuer.organization("Acme"), await issuer.organization("Globex")
    ada = await issuer.user("ada@example.com")
    in_groups = []
    for org in (acme, globex):
        membership = await issuer.member(org["id"], ada["id"])
        group = await issuer.create(f"/organizations/{org['id']}/groups", {"name": "Admins"})
        path = f"/organizations/{org['id']}/groups/{group['id']}/members"
        in_groups.append((membership, await issuer.create(path, {"member_id": ada["id"]})))
    (membership, in_group), (_, kept) = in_groups
    path = f"/organizations/{acme['id']}/memberships/{membership['id']}"
    assert (await issuer.delete(path)).status_code == 204
    assert stored_ids(issuer.install, "group_member") == [kept["id"]]
    assert events(issuer.install)[-2:] == [
        ("group.member.deleted", in_group["id"]),
        ("membership.deleted", membership["id"]),
    ]


async def test_deleting_a_group_keeps_the_memberships(issuer: Issuer) -> None:
    org, ada = await issuer.organization("Acme"), await issuer.user("ada@example.com")
    membership = await issuer.member(org["id"], ada["id"])
    group = await issuer.create(f"/organizations/{org['id']}/groups", {"name": "Admins"})
    path = f"/organizations/{org['id']}/groups/{group['id']}"
    in_group = await issuer.create(f"{path}/members", {"member_id": ada["id"]})
    assert (await issuer.delete(path)).status_code == 204
    assert stored_ids(issuer.install, "membership") == [membership["id"]]
    assert events(issuer.install)[-2:] == [
        ("group.member.deleted", in_group["id"]),
        ("group.deleted", group["id"]),
    ]


# membership rules


async def test_the_member_limit_is_a_409_and_stores_nothing(issuer: Issuer) -> None:
    org = await issuer.organization("Acme", member_limit=2)
    first = await issuer.member(org["id"], (await issuer.user("a@example.com"))["id"])
    await issuer.member(org["id"], (await issuer.agent("Triage"))["id"])
    late = await issuer.user("c@example.com")
    before = totals(issuer.install)
    response = await issuer.post(
        f"/organizations/{org['id']}/memberships", {"member_id": late["id"]}
    )
    assert response.status_code == 409
    assert response.json() == problem(
        "member-limit-reached",
        "Member limit reached",
        409,
        f"organization {org['id']} has reached its member limit of 2",
    )
    assert totals(issuer.install) == before
    await issuer.delete(f"/organizations/{org['id']}/memberships/{first['id']}")
    await issuer.member(org["id"], late["id"])


async def test_the_member_limit_holds_under_concurrent_joins(issuer: Issuer) -> None:
    org = await issuer.organization("Acme", member_limit=2)
    users = [await issuer.user(f"u{n}@example.com") for n in range(5)]
    path = f"/organizations/{org['id']}/memberships"
    responses = await asyncio.gather(
        *(issuer.post(path, {"member_id": user["id"]}) for user in users)
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 409, 409, 409]
    assert len(stored_ids(issuer.install, "membership")) == 2


async def test_raising_the_member_limit_makes_room(issuer: Issuer) -> None:
    org = await issuer.organization("Acme", member_limit=1)
    await issuer.member(org["id"], (await issuer.user("a@example.com"))["id"])
    await issuer.patch(f"/organizations/{org['id']}", {"member_limit": None})
    await issuer.member(org["id"], (await issuer.user("b@example.com"))["id"])
    assert len(stored_ids(issuer.install, "membership")) == 2


@pytest.mark.parametrize("member", ["user", "agent"])
async def test_a_member_from_another_issuer_is_refused(
    install: Install, issuer: Issuer, member: str
) -> None:
    elsewhere = await new_issuer(install, name="Acme US")
    if member == "user":
        stranger = await elsewhere.user("ada@example.com")
    else:
        stranger = await elsewhere.agent("Triage")
    org = await issuer.organization("Acme")
    before = totals(install)
    response = await issuer.post(
        f"/organizations/{org['id']}/memberships", {"member_id": stranger["id"]}
    )
    assert response.status_code == 404
    assert response.json() == {
        "type": "https://authpi.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": f"{member} {stranger['id']} not found",
    }
    assert totals(install) == before


async def test_a_member_that_is_no_user_or_agent_is_refused(issuer: Issuer) -> None:
    org = await issuer.organization("Acme")
    response = await issuer.post(
        f"/organizations/{org['id']}/memberships", {"member_id": org["id"]}
    )
    assert response.json() == invalid(
        ("member_id", "must name a user (usr_...) or an agent (agt_...)")
    )


async def test_a_member_twice_is_a_409(issuer: Issuer) -> None:
    org, ada = await issuer.organization("Acme"), await issuer.user("ada@example.com")
    await issuer.member(org["id"], ada["id"])
    before = totals(issuer.install)
    response = await issuer.post(
        f"/organizations/{org['id']}/memberships", {"member_id": ada["id"]}
    )
    assert response.status_code == 409
    assert response.json() == problem(
        "conflict", "Conflict", 409, "this member already belongs to the organization"
    )
    assert totals(issuer.install) == before


async def test_a_group_takes_members_of_its_organization_once(issuer: Issuer) -> None:
    org, ada = await issuer.organization("Acme"), await issuer.user("ada@example.com")
    group = await issuer.create(f"/organizations/{org['id']}/groups", {"name": "Admins"})
    path = f"/organizations/{org['id']}/groups/{group['id']}/members"
    response = await issuer.post(path, {"member_id": ada["id"]})
    assert response.status_code == 409
    assert response.json() == {
        "type": "https://authpi.dev/problems/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": f"{ada['id']} must be a member of the group's organization first",
    }
    await issuer.member(org["id"], ada["id"])
    await issuer.create(path, {"member_id": ada["id"]})
    response = await issuer.post(path, {"member_id": ada["id"]})
    assert response.status_code == 409
    assert response.json()["detail"] == "this member is already in the group"


# the outbox


async def test_every_change_writes_its_event_in_the_issuers_shard(
    install: Install, issuer: Issuer
) -> None:
    user = await issuer.user("ada@example.com")
    await issuer.patch(f"/users/{user['id']}", {"name": "Ada"})
    await issuer.delete(f"/users/{user['id']}")
    rows = query(
        install,
        "SELECT type, subject, actor, time, issuer_id, account_id, data FROM events"
        " WHERE subject = ? ORDER BY seq",
        (user["id"],),
    )
    key_id = issuer.token.split(".")[0]
    assert [row[:6] for row in rows] == [
        (f"user.{verb}", user["id"], key_id, NOW, issuer.id, None)
        for verb in ("created", "updated", "deleted")
    ]
    created = {k: v for k, v in user.items() if k not in {"object", "created_at", "updated_at"}}
    assert orjson.loads(rows[0][6]) == created
    assert orjson.loads(rows[1][6]) == {**created, "name": "Ada", "changed": ["name"]}
    with contextlib.closing(sqlite3.connect(install.data_dir / "directory.db")) as directory:
        assert directory.execute(
            "SELECT COUNT(*) FROM events WHERE subject = ?", (user["id"],)
        ).fetchone() == (0,)


async def test_a_refused_change_leaves_no_event(issuer: Issuer) -> None:
    user = await issuer.user("ada@example.com")
    before = totals(issuer.install)
    response = await issuer.post("/users", {"email": "ADA@example.com"})
    assert response.status_code == 409
    assert response.json() == problem(
        "conflict", "Conflict", 409, "a user with this email already exists in the issuer"
    )
    response = await issuer.patch(f"/users/{user['id']}", {}, headers={"If-Match": '"9"'})
    assert response.status_code == 412
    assert totals(issuer.install) == before
    assert events(issuer.install)[-1] == ("user.created", user["id"])
