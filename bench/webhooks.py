"""Webhook benchmark: events delivered per second to a local receiver, and the delay from
commit to arrival at p50 and p99.

    python -m bench.webhooks [--events N] [--rate R] [--seconds S]

One node in this process (its event loop, aiosqlite threads and dispatcher on core 0), on a
temporary install with real files; the receiver is a granian process on core 1. Phases:

1. throughput: N `user.created` events committed while the subscription is disabled, then
   it is enabled and the time from enabling to the last arrival is measured (the whole
   path: outbox read, signing, HTTP to the receiver, the record and the stream's position
   committed per event);
2. delay: users created at R per second for S seconds while the subscription is enabled;
   for each event, its arrival time at the receiver minus its `time` (the commit's clock,
   millisecond precision: the delay includes up to 1 ms of rounding).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import cores
from bench.latency import Percentiles
from bench.processes import PinnedGranian
from runtime.app import create_app
from runtime.settings import Settings
from shards.clock import SystemClock
from shards.directory import Directory


async def _prepare(data_dir: Path) -> tuple[str, str]:
    directory = await Directory.open(data_dir, SystemClock())
    await directory.register_shard("fra")
    account, issued = await directory.create_account("Bench")
    await directory.close()
    return account.id, issued.token


async def _wait_for(url: str, count: int, within: float) -> list[tuple[str, str, float]]:
    """The receiver's arrivals once there are `count` (polled rarely: the poll shares the
    node's event loop and core)."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while True:
            response = await client.get(f"{url}/arrivals")
            arrivals = [(str(a), str(b), float(c)) for a, b, c in orjson.loads(response.content)]
            if len(arrivals) >= count or time.monotonic() > deadline:
                return arrivals
            await asyncio.sleep(0.5)


async def run(events: int, rate: float, seconds: float, receiver_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        account_id, token = await _prepare(data_dir)
        settings = Settings.from_environ(
            {
                "FLY_REGION": "fra",
                "AUTHPI_DATA_DIR": str(data_dir),
                "AUTHPI_WEBHOOKS_ALLOW_PRIVATE": "1",
            }
        )
        app = create_app(settings)
        headers = {"Authorization": f"Bearer {token}"}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                issuer = await client.post(
                    f"/v1/accounts/{account_id}/issuers",
                    json={"name": "Bench", "jurisdiction": "eu"},
                    headers=headers,
                )
                users = f"/v1/accounts/{account_id}/issuers/{issuer.json()['id']}/users"
                webhook = await client.post(
                    f"/v1/accounts/{account_id}/webhooks",
                    json={
                        "url": f"{receiver_url}/hooks",
                        "event_types": ["user.created"],
                        "status": "disabled",
                    },
                    headers=headers,
                )
                item = f"/v1/accounts/{account_id}/webhooks/{webhook.json()['id']}"
                for number in range(events):
                    await client.post(
                        users, json={"email": f"b{number}@example.com"}, headers=headers
                    )
                started = time.perf_counter()
                await client.patch(item, json={"status": "enabled"}, headers=headers)
                arrivals = await _wait_for(receiver_url, events, within=600)
                drained = max(arrival for _, _, arrival in arrivals)
                wall_started = time.time() - (time.perf_counter() - started)
                throughput = len(arrivals) / (drained - wall_started)

                interval = 1.0 / rate
                planned = int(rate * seconds)
                next_at = time.perf_counter()
                for number in range(planned):
                    await client.post(
                        users, json={"email": f"d{number}@example.com"}, headers=headers
                    )
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                arrivals = await _wait_for(receiver_url, events + planned, within=120)
        delays = [
            (arrival - datetime.fromisoformat(event_time).timestamp()) * 1000
            for _, event_time, arrival in arrivals[events:]
        ]
        return {
            "events": events,
            "delivered": len(arrivals[:events]),
            "throughput": throughput,
            "delay": Percentiles.of(delays),
            "rate": rate,
            "seconds": seconds,
            "duplicates": len(arrivals) - len({event_id for event_id, _, _ in arrivals}),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    options = parser.parse_args()
    placement = cores.choose()
    receiver = PinnedGranian(
        name="receiver",
        target="bench.webhook_receiver:receiver_app",
        env={},
        interface="asgi",
        ready_path="/arrivals",
        cores=placement.client,
    )
    receiver.start(os.environ)
    try:
        receiver.wait_ready()
        with cores.pinned(placement.server):
            result = asyncio.run(run(options.events, options.rate, options.seconds, receiver.url))
    finally:
        receiver.stop()
    delay: Percentiles = result["delay"]
    print(f"placement: {placement.describe()}")
    print("| what | measured |")
    print("|---|---|")
    print(
        f"| events delivered per second (backlog of {result['events']}, one subscription) "
        f"| {result['throughput']:,.0f} |"
    )
    print(
        f"| commit to arrival at {result['rate']:g} events/s for {result['seconds']:g} s:"
        f" p50 / p99 ms | {delay.p50:.1f} / {delay.p99:.1f} |"
    )
    print(f"| duplicates | {result['duplicates']} |")


if __name__ == "__main__":
    main()
