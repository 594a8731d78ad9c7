"""Receivers that misbehave: oversized and slow answers are bounded, redirects are not
followed, a day of failures disables the subscription with a reason, and redelivery and
replay send events again with their ids."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runtime.webhooks.dispatcher import POLL_SECONDS
from runtime.webhooks.outbound import ATTEMPT_TIMEOUT, MAX_RESPONSE_BYTES
from shards.clock import rfc3339
from tests.webhooks.conftest import Hooks, live_clock, open_hooks
from tests.webhooks.receiver import Receiver


async def test_an_oversized_answer_is_read_only_up_to_the_cap(hooks: Hooks) -> None:
    webhook = await hooks.subscribe(["user.created"])
    hooks.receiver.status = 200
    hooks.receiver.body = b"x" * (MAX_RESPONSE_BYTES * 16)
    await hooks.create_user("ada@example.com")
    await hooks.settle()
    [record] = await hooks.deliveries(webhook["id"])
    assert record["outcome"] == "succeeded"
    assert record["response_excerpt"] == "x" * 1024
    assert record["error"] == (
        f"the response was over {MAX_RESPONSE_BYTES} bytes; the rest was not read"
    )


async def test_a_slow_receiver_costs_a_bounded_wait_and_is_retried(hooks: Hooks) -> None:
    webhook = await hooks.subscribe(["user.created"])
    hooks.receiver.delay = ATTEMPT_TIMEOUT + 2
    await hooks.create_user("ada@example.com")
    started = time.monotonic()
    await hooks.settle()
    assert time.monotonic() - started < ATTEMPT_TIMEOUT + 1.5
    [record] = await hooks.deliveries(webhook["id"])
    assert record["outcome"] == "retrying"
    assert record["error"] == f"no complete answer within {ATTEMPT_TIMEOUT:g} s"
    hooks.receiver.delay = 0
    await hooks.advance(60)
    records = await hooks.deliveries(webhook["id"])
    assert [r["outcome"] for r in records] == ["retrying", "succeeded"]
    assert len({r["event_id"] for r in records}) == 1


async def test_redirects_are_not_followed(hooks: Hooks) -> None:
    webhook = await hooks.subscribe(["user.created"])
    hooks.receiver.status = 307
    await hooks.create_user("ada@example.com")
    await hooks.settle()
    [record] = await hooks.deliveries(webhook["id"])
    assert record["status_code"] == 307
    assert record["error"] == "HTTP 307 to nowhere: redirects are not followed"


async def test_a_day_of_failures_disables_the_subscription(
    tmp_path: Path, receiver: Receiver
) -> None:
    clock = live_clock(behind=timedelta(days=1, hours=3))
    async with open_hooks(tmp_path, clock, receiver) as hooks:
        webhook = await hooks.subscribe(["user.created"])
        receiver.status = 503
        first = await hooks.create_user("ada@example.com")
        second = await hooks.create_user("bob@example.com")
        await hooks.settle()
        for _ in range(30 * 26):  # a day, and the last retry's wait, in two-minute steps
            await hooks.advance(120)
        item = (
            await hooks.client.get(f"{hooks.webhooks}/{webhook['id']}", headers=hooks.headers)
        ).json()
        assert item["status"] == "disabled"
        assert item["disabled_reason"].startswith(
            f"every delivery to {receiver.url} failed for 24 hours ("
        )
        assert item["disabled_reason"].endswith("attempts); the last: HTTP 503")
        records = await hooks.deliveries(webhook["id"])
        assert {r["event_id"] for r in records} == {records[0]["event_id"]}  # n+1 waited
        assert records[-1]["outcome"] == "failed"
        events = await hooks.client.get(
            f"/v1/accounts/{hooks.account_id}/events",
            params={"type": "webhook.disabled"},
            headers=hooks.headers,
        )
        [disabled] = events.json()["data"]
        assert disabled["actor"] == "system"
        assert disabled["data"]["reason"] == item["disabled_reason"]

        # Enabled again, with the receiver back: the stream resumes with the next event,
        # and the given-up one is redelivered on request, with its id.
        receiver.status = 204
        clock.moment = datetime.now(UTC)
        response = await hooks.client.patch(
            f"{hooks.webhooks}/{webhook['id']}", json={"status": "enabled"}, headers=hooks.headers
        )
        assert response.status_code == 200
        await hooks.settle()
        assert [r.event.get_subject() for r in receiver.received] == [second]
        response = await hooks.client.post(
            f"{hooks.issuer}/webhooks/{webhook['id']}/redeliver",
            json={"event_id": records[0]["event_id"]},
            headers=hooks.headers,
        )
        assert response.status_code == 202, response.text
        await hooks.settle()
        assert [r.event.get_subject() for r in receiver.received] == [second, first]
        assert receiver.received[1].event.get_id() == records[0]["event_id"]


async def test_replay_sends_a_time_range_again(hooks: Hooks) -> None:
    webhook = await hooks.subscribe(["user.created"])
    since = hooks.clock.now()
    users = [await hooks.create_user(f"u{n}@example.com") for n in range(3)]
    await hooks.advance(1)
    response = await hooks.client.post(
        f"{hooks.issuer}/webhooks/{webhook['id']}/replay",
        json={"since": since.isoformat()},
        headers={**hooks.headers, "Idempotency-Key": "replay-1"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["queued"] == 3
    again = await hooks.client.post(
        f"{hooks.issuer}/webhooks/{webhook['id']}/replay",
        json={"since": since.isoformat()},
        headers={**hooks.headers, "Idempotency-Key": "replay-1"},
    )
    assert again.headers["Idempotency-Replayed"] == "true"
    await hooks.settle()
    subjects = [r.event.get_subject() for r in hooks.receiver.received]
    assert subjects == users + users
    ids = [r.event.get_id() for r in hooks.receiver.received]
    assert ids[:3] == ids[3:]  # duplicates carry the same id
    replays = await hooks.deliveries(webhook["id"], outcome="succeeded")
    assert [r["trigger"] for r in replays] == ["event"] * 3 + ["replay"] * 3


async def test_a_disabled_subscription_refuses_redelivery(hooks: Hooks) -> None:
    webhook = await hooks.subscribe(["user.created"], status="disabled")
    await hooks.create_user("ada@example.com")
    await hooks.settle()
    assert hooks.receiver.received == []
    events = await hooks.client.get(f"{hooks.issuer}/events", headers=hooks.headers)
    event_id = next(e["id"] for e in events.json()["data"] if e["type"] == "user.created")
    response = await hooks.client.post(
        f"{hooks.issuer}/webhooks/{webhook['id']}/redeliver",
        json={"event_id": event_id},
        headers=hooks.headers,
    )
    assert response.status_code == 409
    assert response.json() == {
        "type": "https://authpi.dev/problems/webhook-disabled",
        "title": "Webhook disabled",
        "status": 409,
        "detail": f"webhook {webhook['id']} is disabled; enable it to have events delivered",
    }


async def test_a_redelivery_queued_by_another_process_is_sent_within_a_poll(
    hooks: Hooks,
) -> None:
    """Ordinary commits do not make the dispatcher read the redelivery queue; what another
    process puts there (no commit through this node) is still found within `POLL_SECONDS`."""
    webhook = await hooks.subscribe(["user.created"])
    user = await hooks.create_user("ada@example.com")
    await hooks.settle()
    [first] = hooks.receiver.received
    [shard_file] = hooks.data_dir.glob("shards/*.db")
    with sqlite3.connect(shard_file) as db:
        [(seq,)] = db.execute(
            "SELECT seq FROM events WHERE subject = ? AND type = 'user.created'", (user,)
        ).fetchall()
        db.execute(
            "INSERT INTO webhook_redeliveries (webhook_id, event_seq, trigger, requested_by,"
            " next_attempt_at) VALUES (?, ?, 'redeliver', 'ops', ?)",
            (webhook["id"], seq, rfc3339(hooks.clock.now())),
        )
    await asyncio.sleep(POLL_SECONDS)
    await hooks.settle()
    assert [r.event.get_id() for r in hooks.receiver.received] == [first.event.get_id()] * 2
    records = await hooks.deliveries(webhook["id"])
    assert [(r["trigger"], r["outcome"]) for r in records] == [
        ("event", "succeeded"),
        ("redeliver", "succeeded"),
    ]
