"""Subscriptions: bad input refused with whole problem bodies, SSRF, secret rotation with
both signatures during the overlap, and the account-level events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.core.catalogue import EVENT_TYPES
from runtime.settings import Settings
from runtime.webhooks.outbound import DestinationRefused, check_destination
from tests.webhooks.conftest import PUBLIC_URL, Hooks


def invalid(field: str, message: str) -> dict[str, Any]:
    return {
        "type": "https://authpi.dev/problems/validation-failed",
        "title": "Validation failed",
        "status": 422,
        "detail": f"invalid fields: {field}",
        "errors": [{"field": field, "message": message}],
    }


async def create(hooks: Hooks, body: dict[str, Any]) -> Any:
    return await hooks.client.post(hooks.webhooks, json=body, headers=hooks.headers)


async def test_unknown_event_types_are_refused(hooks: Hooks) -> None:
    response = await create(
        hooks, {"url": hooks.receiver.url, "event_types": ["user.created", "usr.created"]}
    )
    assert response.status_code == 422
    known = len(EVENT_TYPES)
    assert response.json() == invalid(
        "event_types", f"item 1 'usr.created' is not one of the {known} known values"
    )
    response = await create(hooks, {"url": hooks.receiver.url, "event_types": []})
    assert response.json() == invalid("event_types", "must have at least 1 item")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "must be an http or https URL without a fragment"),
        ("ftp://127.0.0.1/hooks", "must be an http or https URL without a fragment"),
        ("http://user:pw@127.0.0.1/hooks", "must be an http or https URL without a fragment"),
        ("http://127.0.0.1:99999/hooks", "must be an http or https URL without a fragment"),
    ],
)
async def test_invalid_urls_are_refused(hooks: Hooks, url: str, message: str) -> None:
    response = await create(hooks, {"url": url, "event_types": ["user.created"]})
    assert response.status_code == 422
    assert response.json() == invalid("url", message)


async def test_issuers_of_other_accounts_are_refused(hooks: Hooks) -> None:
    stranger = "i_01jd8k2v6m4q9x7c3n5b8r2t0w"
    response = await create(
        hooks,
        {"url": hooks.receiver.url, "event_types": ["user.created"], "issuer_ids": [stranger]},
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"not issuers of this account: {stranger}"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hooks", "127.0.0.1 is a loopback address"),
        ("https://[::1]/hooks", "::1 is a loopback address"),
        ("https://10.0.0.8/hooks", "10.0.0.8 is a private address"),
        ("https://192.168.1.1/hooks", "192.168.1.1 is a private address"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("https://[fe80::1]/hooks", "fe80::1 is a link-local address"),
        ("https://224.0.0.1/hooks", "224.0.0.1 is a multicast address"),
        ("https://0.0.0.0/hooks", "0.0.0.0 is an unspecified address"),
        ("https://[::ffff:127.0.0.1]/hooks", "::ffff:7f00:1 is a loopback address"),
        ("https://localhost/hooks", "127.0.0.1 is a loopback address"),
    ],
)
async def test_private_addresses_are_refused_unless_allowed(url: str, why: str) -> None:
    with pytest.raises(DestinationRefused) as refused:
        await check_destination(url, allow_private=False)
    host = url.split("/")[2].strip("[]")
    assert str(refused.value) == (
        f"its host {host} resolves to {why}; webhooks go to public addresses only"
    )
    await check_destination(url, allow_private=True)


async def test_a_host_that_does_not_resolve_is_refused_where_it_would_be_looked_up() -> None:
    with pytest.raises(DestinationRefused) as refused:
        await check_destination("https://no-such-host.invalid/hooks", allow_private=False)
    assert str(refused.value) == "its host no-such-host.invalid does not resolve"
    # where private addresses are allowed, only each attempt looks the host up
    await check_destination("https://no-such-host.invalid/hooks", allow_private=True)


async def test_plain_http_needs_the_private_setting() -> None:
    with pytest.raises(DestinationRefused, match="must be an https URL"):
        await check_destination("http://203.0.113.7/hooks", allow_private=False)


def test_the_setting_is_read_once_and_checked(tmp_path: Path) -> None:
    base = {"FLY_REGION": "fra", "AUTHPI_DATA_DIR": str(tmp_path)}
    assert not Settings.from_environ(base).webhooks_allow_private
    allowed = {**base, "AUTHPI_WEBHOOKS_ALLOW_PRIVATE": "1"}
    assert Settings.from_environ(allowed).webhooks_allow_private
    with pytest.raises(ValueError, match="AUTHPI_WEBHOOKS_ALLOW_PRIVATE must be 1 or 0"):
        Settings.from_environ({**base, "AUTHPI_WEBHOOKS_ALLOW_PRIVATE": "yes"})


async def test_the_secret_is_shown_once_and_rotated_with_an_overlap(hooks: Hooks) -> None:
    webhook = await hooks.subscribe(["user.created"])
    assert webhook["secret"].startswith("whsec_")
    item = f"{hooks.webhooks}/{webhook['id']}"
    read = await hooks.client.get(item, headers=hooks.headers)
    assert "secret" not in read.json()
    response = await hooks.client.post(
        f"{item}/rotate_secret", json={"overlap_seconds": 60}, headers=hooks.headers
    )
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["secret"] != webhook["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    hooks.receiver.secrets.append(rotated["secret"])

    await hooks.create_user("ada@example.com")
    await hooks.settle()
    [during] = hooks.receiver.received
    assert during.headers["webhook-signature"].count("v1,") == 2
    assert during.verified_by == [webhook["secret"], rotated["secret"]]

    await hooks.advance(61)  # the overlap is over: only the new secret signs
    await hooks.create_user("bob@example.com")
    await hooks.settle()
    after = hooks.receiver.received[1]
    assert after.headers["webhook-signature"].count("v1,") == 1
    assert after.verified_by == [rotated["secret"]]


async def test_account_level_events_are_delivered_and_listed(hooks: Hooks) -> None:
    await hooks.advance(1)  # the issuer was placed before the subscription: not sent
    webhook = await hooks.subscribe(["webhook.updated", "issuer.placed"])
    response = await hooks.client.patch(
        f"{hooks.webhooks}/{webhook['id']}", json={"description": "ops"}, headers=hooks.headers
    )
    assert response.status_code == 200, response.text
    await hooks.settle()
    [received] = hooks.receiver.received
    assert received.event.get_type() == "webhook.updated"
    assert received.event.get_source() == f"{PUBLIC_URL}/v1/accounts/{hooks.account_id}"
    assert received.verified_by
    events = await hooks.client.get(
        f"/v1/accounts/{hooks.account_id}/events",
        params={"type": "webhook.updated"},
        headers=hooks.headers,
    )
    [listed] = events.json()["data"]
    assert listed["id"] == received.event.get_id()
    assert listed["actor_type"] == "api_key"
    records = await hooks.client.get(
        f"{hooks.webhooks}/{webhook['id']}/deliveries", headers=hooks.headers
    )
    assert [r["event_id"] for r in records.json()["data"]] == [listed["id"]]
