"""A node killed with SIGKILL in the middle of a delivery loses no event: after a restart
its dispatcher resumes from the committed stream position, and every event arrives, the
one in flight perhaps twice, with the same id."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from runtime.dev import Mesh
from runtime.processes import free_port
from tests.webhooks.receiver import Receiver

USERS = 12
KILL_AFTER = 4  # deliveries received before the kill; the next one is in flight
DEADLINE_SECONDS = 30.0


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_mid_delivery_loses_no_event(tmp_path: Path) -> None:
    receiver = Receiver(delay=0.5).start()
    mesh = Mesh(regions=["fra"], data_root=tmp_path, port=free_port())
    bootstrap = mesh.bootstrap()
    mesh.start(os.environ)
    node = mesh.nodes["fra"]
    headers = {"Authorization": f"Bearer {bootstrap.key.token}"}
    account = f"{node.url}/v1/accounts/{bootstrap.account_id}"
    try:
        issuer = httpx.post(
            f"{account}/issuers", json={"name": "Crash", "jurisdiction": "eu"}, headers=headers
        ).json()["id"]
        webhook = httpx.post(
            f"{account}/webhooks",
            json={"url": receiver.url, "event_types": ["user.created"]},
            headers=headers,
        ).json()
        receiver.secrets.append(webhook["secret"])
        for number in range(USERS):
            response = httpx.post(
                f"{account}/issuers/{issuer}/users",
                json={"email": f"u{number}@example.com"},
                headers=headers,
            )
            assert response.status_code == 201, response.text
        wait_until(lambda: len(receiver.received) > KILL_AFTER, "deliveries to start")
        node.kill()  # a delivery is in flight: sent, its answer not recorded
        receiver.delay = 0
        node.start(os.environ)
        node.wait_ready()
        events = httpx.get(
            f"{account}/issuers/{issuer}/events",
            params={"type": "user.created", "limit": "100"},
            headers=headers,
        ).json()["data"]
        expected = [event["id"] for event in events]
        assert len(expected) == USERS
        wait_until(lambda: set(expected) <= set(receiver.ids), "every event to arrive")
    finally:
        mesh.stop()
        receiver.stop()
    ids = receiver.ids
    assert list(dict.fromkeys(ids)) == expected, "in commit order, duplicates aside"
    assert len(ids) - len(set(ids)) <= 1, "at most the delivery in flight came twice"
    assert all(item.verified_by for item in receiver.received)
