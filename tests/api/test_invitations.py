"""Invitations: accepted into a membership, or revoked; closed for good either way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.conftest import Install
from tests.api.test_graph_support import (
    NOW,
    Issuer,
    event_data,
    events,
    forbidden,
    invalid,
    new_issuer,
    not_found,
    problem,
    query,
    totals,
)
from tests.conftest import FrozenClock

EXPIRES = "2026-12-06T12:00:00.123Z"  # seven days after the frozen clock
SAMPLE = "01jd8k2v6m4q9x7c3n5b8r2t0w"


@pytest.fixture
async def issuer(install: Install) -> Issuer:
    return await new_issuer(install)


async def invite(
    issuer: Issuer, email: str = "bob@example.com", **fields: Any
) -> tuple[dict[str, Any], str]:
    """A new organization with one invitation; the invitation and its path."""
    org = await issuer.organization("Acme", **fields.pop("organization", {}))
    path = f"/organizations/{org['id']}/invitations"
    invitation = await issuer.create(path, {"email": email, **fields})
    return invitation, f"{path}/{invitation['id']}"


def not_pending(invitation_id: str, status: str) -> dict[str, Any]:
    return problem(
        "invitation-not-pending",
        "Invitation not pending",
        409,
        f"invitation {invitation_id} is {status}, no longer pending",
        invitation_status=status,
    )


async def test_accepting_makes_the_user_a_member_with_the_invited_scopes(
    issuer: Issuer,
) -> None:
    invitation, path = await invite(issuer, scopes=["tickets:read"])
    user = await issuer.user("Bob@Example.com")
    response = await issuer.post(f"{path}/accept", {"user_id": user["id"]})
    assert response.status_code == 200
    (membership_id,) = query(issuer.install, "SELECT id FROM resources WHERE kind = 'membership'")
    assert response.json() == {
        **invitation,
        "status": "accepted",
        "accepted_at": NOW,
        "user_id": user["id"],
        "membership_id": membership_id[0],
    }
    assert response.headers["etag"] == '"2"'
    membership = await issuer.get(
        f"/organizations/{invitation['organization_id']}/memberships/{membership_id[0]}"
    )
    assert membership.json()["scopes"] == ["tickets:read"]
    assert membership.json()["member_id"] == user["id"]
    assert events(issuer.install)[-2:] == [
        ("membership.created", membership_id[0]),
        ("invitation.accepted", invitation["id"]),
    ]
    assert event_data(issuer.install, "invitation.accepted", invitation["id"])["status"] == (
        "accepted"
    )


async def test_without_scopes_the_member_gets_the_organizations_defaults(issuer: Issuer) -> None:
    _, path = await invite(issuer, organization={"default_member_scopes": ["wiki:read"]})
    user = await issuer.user("bob@example.com")
    await issuer.post(f"{path}/accept", {"user_id": user["id"]})
    rows = query(issuer.install, "SELECT data FROM resources WHERE kind = 'membership'")
    assert '"scopes":["wiki:read"]' in rows[0][0]


async def test_revoking_closes_the_invitation(issuer: Issuer) -> None:
    invitation, path = await invite(issuer)
    response = await issuer.post(f"{path}/revoke", {})
    assert response.status_code == 200
    assert response.json() == {**invitation, "status": "revoked", "revoked_at": NOW}
    assert events(issuer.install)[-1] == ("invitation.revoked", invitation["id"])


async def test_revoking_needs_no_body(issuer: Issuer) -> None:
    _, path = await invite(issuer)
    response = await issuer.install.client.post(
        issuer.base + f"{path}/revoke", headers={"Authorization": f"Bearer {issuer.token}"}
    )
    assert (response.status_code, response.json()["status"]) == (200, "revoked")


@pytest.mark.parametrize(
    ("first", "then", "status"),
    [
        ("accept", "accept", "accepted"),
        ("accept", "revoke", "accepted"),
        ("revoke", "accept", "revoked"),
        ("revoke", "revoke", "revoked"),
    ],
)
async def test_a_closed_invitation_stays_closed(
    issuer: Issuer, first: str, then: str, status: str
) -> None:
    invitation, path = await invite(issuer)
    user = await issuer.user("bob@example.com")
    bodies = {"accept": {"user_id": user["id"]}, "revoke": {}}
    assert (await issuer.post(f"{path}/{first}", bodies[first])).status_code == 200
    before = totals(issuer.install)
    response = await issuer.post(f"{path}/{then}", bodies[then])
    assert (response.status_code, response.json()) == (409, not_pending(invitation["id"], status))
    patched = await issuer.patch(path, {"scopes": ["x:y"]})
    assert (patched.status_code, patched.json()) == (409, not_pending(invitation["id"], status))
    assert totals(issuer.install) == before


async def test_an_expired_invitation_cannot_be_accepted(issuer: Issuer, clock: FrozenClock) -> None:
    invitation, path = await invite(issuer)
    assert invitation["expires_at"] == EXPIRES
    user = await issuer.user("bob@example.com")
    clock.moment += timedelta(days=7)
    before = totals(issuer.install)
    response = await issuer.post(f"{path}/accept", {"user_id": user["id"]})
    assert (response.status_code, response.json()) == (
        409,
        not_pending(invitation["id"], "expired"),
    )
    assert totals(issuer.install) == before
    renewed = await issuer.patch(path, {"expires_at": "2026-12-31T00:00:00Z"})
    assert renewed.status_code == 200
    assert (await issuer.post(f"{path}/accept", {"user_id": user["id"]})).status_code == 200


async def test_only_the_invited_address_can_accept(issuer: Issuer) -> None:
    _, path = await invite(issuer)
    eve = await issuer.user("eve@example.com")
    before = totals(issuer.install)
    response = await issuer.post(f"{path}/accept", {"user_id": eve["id"]})
    assert response.status_code == 409
    assert response.json() == problem(
        "invitation-email-mismatch",
        "Invitation email mismatch",
        409,
        f"user {eve['id']} does not have the invited email address; the invitation is for"
        " bob@example.com",
    )
    assert totals(issuer.install) == before


async def test_the_user_must_exist_in_the_issuer(install: Install, issuer: Issuer) -> None:
    _, path = await invite(issuer)
    elsewhere = await (await new_issuer(install, name="Other")).user("bob@example.com")
    before = totals(install)
    response = await issuer.post(f"{path}/accept", {"user_id": elsewhere["id"]})
    assert response.json() == not_found(f"user {elsewhere['id']} not found")
    assert totals(install) == before


async def test_the_member_limit_holds_and_the_invitation_stays_pending(issuer: Issuer) -> None:
    invitation, path = await invite(issuer, organization={"member_limit": 1})
    ada, bob = await issuer.user("ada@example.com"), await issuer.user("bob@example.com")
    await issuer.member(invitation["organization_id"], ada["id"])
    before = totals(issuer.install)
    response = await issuer.post(f"{path}/accept", {"user_id": bob["id"]})
    assert response.status_code == 409
    assert response.json()["type"] == "https://authpi.dev/problems/member-limit-reached"
    assert totals(issuer.install) == before
    assert (await issuer.get(path)).json()["status"] == "pending"


async def test_an_existing_member_cannot_accept_twice_over(issuer: Issuer) -> None:
    invitation, path = await invite(issuer)
    bob = await issuer.user("bob@example.com")
    await issuer.member(invitation["organization_id"], bob["id"])
    response = await issuer.post(f"{path}/accept", {"user_id": bob["id"]})
    assert response.json() == problem(
        "conflict", "Conflict", 409, "this member already belongs to the organization"
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, [("user_id", "is required")]),
        ({"user_id": f"agt_{SAMPLE}"}, [("user_id", "must name a user (usr_...)")]),
        ({"user_id": f"usr_{SAMPLE}", "x": 1}, [("x", "unknown field")]),
    ],
)  # fmt: skip
async def test_a_bad_accept_body_is_a_422(
    issuer: Issuer, body: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    _, path = await invite(issuer)
    before = totals(issuer.install)
    response = await issuer.post(f"{path}/accept", body)
    assert (response.status_code, response.json()) == (422, invalid(*errors))
    assert totals(issuer.install) == before


async def test_a_retried_accept_replays_its_answer(issuer: Issuer) -> None:
    _, path = await invite(issuer)
    bob = await issuer.user("bob@example.com")
    headers = {"Idempotency-Key": "accept-1"}
    first = await issuer.post(f"{path}/accept", {"user_id": bob["id"]}, headers=headers)
    again = await issuer.post(f"{path}/accept", {"user_id": bob["id"]}, headers=headers)
    assert (again.status_code, again.json()) == (200, first.json())
    assert again.headers["idempotency-replayed"] == "true"
    assert len(query(issuer.install, "SELECT id FROM resources WHERE kind = 'membership'")) == 1


async def test_a_stale_if_match_is_a_412(issuer: Issuer) -> None:
    _, path = await invite(issuer)
    await issuer.patch(path, {"scopes": ["a:b"]})
    before = totals(issuer.install)
    response = await issuer.post(f"{path}/revoke", {}, headers={"If-Match": '"1"'})
    assert (response.status_code, response.headers["etag"]) == (412, '"2"')
    assert totals(issuer.install) == before


async def test_an_organization_key_acts_on_its_own_invitations_only(issuer: Issuer) -> None:
    invitation, path = await invite(issuer)
    other = await issuer.organization("Globex")
    token = await issuer.org_key(other["id"], ["organizations:write"])
    response = await issuer.post(f"{path}/revoke", {}, token=token)
    assert response.json() == forbidden(f"this organization API key can only manage {other['id']}")
    own = await issuer.org_key(invitation["organization_id"], ["organizations:write"])
    assert (await issuer.post(f"{path}/revoke", {}, token=own)).status_code == 200
