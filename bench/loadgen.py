"""The load generator: `python -m bench.loadgen` reads a JSON spec on stdin, prints results.

It runs in its own process (on its own core, when pinned) so the node it measures shares
neither an event loop nor a GIL with it, and speaks HTTP/1.1 through `bench.http1` (see there
why not httpx). Two kinds of job:

- GET: `requests` rounds over `paths` on one keep-alive connection, in sequence; one round
  requests every path once, so slow drift (caches, frequency, neighbours) hits all alike.
- POST: creates from `concurrency` workers, one connection each, for `seconds`.

Every request carries the API key; only loopback URLs are accepted.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections import Counter
from typing import Any, Final, TypedDict
from urllib.parse import urlsplit

import orjson

from bench.http1 import ClientError, Connection
from bench.processes import session_cpu_seconds

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})


class Job(TypedDict, total=False):
    name: str
    method: str
    paths: dict[str, str]  # GET: label -> path
    requests: int  # GET: rounds
    path: str  # POST
    seconds: float  # POST
    concurrency: int  # POST
    email_prefix: str  # POST
    warmup: float  # GET: rounds; POST: seconds


class Outcome(TypedDict):
    name: str
    ok: int
    errors: dict[str, int]
    seconds: float
    latencies_ms: list[float]
    client_cpu_seconds: float
    server_cpu_seconds: float | None


class Tally:
    """Latencies of the answers with the expected status; everything else counted by kind."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.latencies_ms: list[float] = []
        self.errors: Counter[str] = Counter()

    async def measure(
        self, connection: Connection, method: str, path: str, body: bytes | None = None
    ) -> None:
        start = time.perf_counter_ns()
        try:
            response = await connection.request(method, path, body)
        except ClientError as exc:
            self.errors[type(exc.__cause__ or exc).__name__] += 1
            return
        elapsed_ms = (time.perf_counter_ns() - start) / 1e6
        if response.status == self.expected:
            self.latencies_ms.append(elapsed_ms)
        else:
            self.errors[str(response.status)] += 1


async def run_gets(
    connection: Connection, paths: dict[str, str], rounds: int, tallies: dict[str, Tally]
) -> None:
    for _ in range(rounds):
        for label, path in paths.items():
            await tallies[label].measure(connection, "GET", path)


async def run_creates(
    connection: Connection, job: Job, seconds: float, prefix: str, tally: Tally
) -> None:
    numbers, deadline = itertools.count(), time.monotonic() + seconds

    async def worker() -> None:
        own = connection.another()
        try:
            while time.monotonic() < deadline:
                body = orjson.dumps({"email": f"{prefix}{next(numbers)}@bench.example"})
                await tally.measure(own, "POST", job["path"], body)
        finally:
            await own.close()

    await asyncio.gather(*(worker() for _ in range(job["concurrency"])))


async def run_job(connection: Connection, job: Job, server_session: int | None) -> list[Outcome]:
    if job["method"] == "POST":
        await run_creates(
            connection, job, job.get("warmup", 0), "warm-" + job["email_prefix"], Tally(201)
        )
        tallies = {job["name"]: Tally(201)}
    else:
        warm = {label: Tally(200) for label in job["paths"]}
        await run_gets(connection, job["paths"], int(job.get("warmup", 0)), warm)
        tallies = {label: Tally(200) for label in job["paths"]}
    server_before = session_cpu_seconds(server_session) if server_session else None
    cpu_before, start = time.process_time(), time.perf_counter()
    if job["method"] == "POST":
        await run_creates(
            connection, job, job["seconds"], job["email_prefix"], tallies[job["name"]]
        )
    else:
        await run_gets(connection, job["paths"], job["requests"], tallies)
    seconds = time.perf_counter() - start
    client_cpu = time.process_time() - cpu_before
    server_cpu = (
        session_cpu_seconds(server_session) - server_before
        if server_session and server_before is not None
        else None
    )
    return [
        Outcome(
            name=label,
            ok=len(tally.latencies_ms),
            errors=dict(tally.errors),
            seconds=seconds,
            latencies_ms=tally.latencies_ms,
            client_cpu_seconds=client_cpu,
            server_cpu_seconds=server_cpu,
        )
        for label, tally in tallies.items()
    ]


async def run(spec: dict[str, Any]) -> list[Outcome]:
    url = urlsplit(spec["base_url"])
    if url.hostname not in LOOPBACK_HOSTS or url.port is None:
        raise SystemExit(f"refusing to load {spec['base_url']}: the benchmark stays on loopback")
    connection = Connection(url.hostname, url.port, {"Authorization": f"Bearer {spec['token']}"})
    try:
        outcomes: list[Outcome] = []
        for job in spec["jobs"]:
            outcomes += await run_job(connection, job, spec.get("server_session"))
        return outcomes
    finally:
        await connection.close()


def main() -> None:
    outcomes = asyncio.run(run(orjson.loads(sys.stdin.buffer.read())))
    sys.stdout.buffer.write(orjson.dumps(outcomes))


if __name__ == "__main__":
    main()
