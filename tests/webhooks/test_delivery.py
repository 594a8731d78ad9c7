"""Deliveries: CloudEvents verified by a real receiver with the Standard Webhooks library,
records of every attempt, and nothing lost or reordered while a receiver is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from tests.webhooks.conftest import PUBLIC_URL, Hooks, live_clock, open_hooks
from tests.webhooks.receiver import Receiver


async def test_an_event_arrives_as_a_signed_cloudevent(hooks: Hooks) -> None:
    webhook = await hooks.subscribe(["user.created"])
    user_id = await hooks.create_user("ada@example.com")
    await hooks.settle()

    [received] = hooks.receiver.received
    assert received.verified_by == [webhook["secret"]]
    event = received.event
    assert event.get_specversion() == "1.0"
    assert event.get_type() == "user.created"
    assert event.get_source() == f"{PUBLIC_URL}/{hooks.issuer_id}"
    assert event.get_subject() == user_id
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("actor") == hooks.token.split(".")[0]
    assert event.get_extension("actortype") == "api_key"
    data = event.get_data()
    assert isinstance(data, dict)
    assert data["email"] == "ada@example.com"
    assert received.headers["webhook-id"] == event.get_id()
    assert received.headers["Content-Type"] == "application/cloudevents+json; charset=utf-8"

    response = await hooks.client.get(
        f"{hooks.issuer}/events", params={"type": "user.created"}, headers=hooks.headers
    )
    assert [e["id"] for e in response.json()["data"]] == [event.get_id()]
    [record] = await hooks.deliveries(webhook["id"])
    assert record["event_id"] == event.get_id()
    assert record["outcome"] == "succeeded"
    assert record["status_code"] == 204
    assert record["attempt"] == 1
    assert record["trigger"] == "event"
    assert record["request_headers"]["webhook-id"] == event.get_id()
    assert record["error"] is None


async def test_only_the_subscribed_types_are_sent(hooks: Hooks) -> None:
    await hooks.subscribe(["user.deleted"])
    user_id = await hooks.create_user("ada@example.com")
    response = await hooks.client.delete(f"{hooks.issuer}/users/{user_id}", headers=hooks.headers)
    assert response.status_code == 204
    await hooks.settle()
    assert [r.event.get_type() for r in hooks.receiver.received] == ["user.deleted"]


async def test_ten_minutes_down_loses_nothing_and_keeps_the_order(
    tmp_path: Path, receiver: Receiver
) -> None:
    # The held clock starts 21 minutes behind the receiver's: ten minutes of outage, then
    # the receiver is up and the clock jumps to the receiver's time, past any retry the
    # backoff scheduled, so the deliveries carry timestamps the receiver takes as current.
    clock = live_clock(behind=timedelta(minutes=21))
    async with open_hooks(tmp_path, clock, receiver) as hooks:
        webhook = await hooks.subscribe(["user.created"])
        receiver.stop()
        users = [await hooks.create_user(f"u{n}@example.com") for n in range(5)]
        await hooks.settle()
        for _ in range(20):  # ten minutes, in 30-second steps
            await hooks.advance(30)
        receiver.start()
        clock.moment = datetime.now(UTC)
        await hooks.settle()

        assert [r.event.get_subject() for r in receiver.received] == users
        assert all(r.verified_by for r in receiver.received)
        records = await hooks.deliveries(webhook["id"])
        failed = [r for r in records if r["outcome"] == "retrying"]
        assert failed, "the outage was noticed"
        assert {r["event_id"] for r in failed} == {receiver.received[0].event.get_id()}
        assert all(r["status_code"] is None and r["error"] for r in failed)
        assert sorted(r["attempt"] for r in failed) == list(range(1, len(failed) + 1))
        succeeded = [r["event_id"] for r in records if r["outcome"] == "succeeded"]
        assert succeeded == receiver.ids


async def test_a_receiver_error_is_retried_with_the_same_id(hooks: Hooks) -> None:
    await hooks.subscribe(["user.created"])
    hooks.receiver.status = 500
    await hooks.create_user("ada@example.com")
    await hooks.settle()
    hooks.receiver.status = 204
    await hooks.advance(3600)
    ids = [orjson.loads(r.body)["id"] for r in hooks.receiver.received]
    assert len(ids) == 1  # the 500 was not accepted by the receiver
    assert hooks.receiver.received[0].headers["webhook-id"] == ids[0]
