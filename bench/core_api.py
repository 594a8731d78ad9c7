"""Core API benchmark: user creates per second on one shard, and list latency at 1k and 1M users.

Targets (from the issue): at least 1,500 creates/s on one shard with the event in the same
transaction, on one core; the p50 of a user list at 1M users within 10% of the p50 at 1k.

    python -m bench.core_api [--quick] [--output PATH]

One temporary install on real files: a `writes` shard, a `small` shard whose only issuer has
1k users, and a `large` shard with an issuer of 1M users plus a 1k-user `neighbour` whose rows
are interleaved with them. In order: bulk load; in-process lists (`ResourceStore.page`);
in-process creates (`Graph.create`, one transaction each, sequential); then one granian node
(one worker) with a load generator in another process: lists, then creates (`POST .../users`).
The shard and the node are pinned to one core, the load generator to another.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from api.core.conventions import DEFAULT_LIMIT
from api.core.graph import Graph
from api.core.kinds import USER
from bench import cores, report
from bench.core_api_report import ListResult, Results, WriteResult, render
from bench.install import (
    BulkLoad,
    Install,
    bulk_load,
    created_users,
    list_plan,
    middle_id,
    prepare,
)
from bench.latency import Percentiles
from bench.processes import PinnedGranian, generate_load
from runtime.dev import NODE_TARGET
from shards.clock import SystemClock

LIST_WARMUP: Final = 50  # rounds before timing: pages cached, connections and plans warm
HTTP_CONCURRENCY: Final = (1, 16)  # one client in sequence, and enough to keep the writer busy
HTTP_WARMUP_SECONDS: Final = 1.0
DEFAULT_OUTPUT: Final = Path(__file__).parent / "results" / "core_api.md"

PLACEMENT: Final = {  # issuer role -> shard role
    "writes": "writes",
    "http-writes": "writes",
    "small": "small",
    "large": "large",
    "neighbour": "large",
    "large-writes": "large",
}
PAGES: Final = ("first", "middle")


@dataclass(frozen=True, slots=True)
class Sizes:
    mode: str
    small_users: int
    large_users: int
    creates: int  # per in-process run
    list_rounds: int  # timed requests per list case
    http_seconds: float  # per HTTP create run


QUICK: Final = Sizes("quick", 1_000, 50_000, 2_000, 300, 4.0)
FULL: Final = Sizes("full", 1_000, 1_000_000, 30_000, 1_000, 20.0)


@dataclass(frozen=True, slots=True)
class Subject:
    """An issuer whose user list is measured."""

    label: str
    shard: str
    issuer: str
    middle: str  # the id the middle page starts after

    def after(self, page: str) -> str | None:
        return self.middle if page == "middle" else None


# the in-process half


async def load(
    install: Install, sizes: Sizes
) -> tuple[dict[str, BulkLoad], list[Subject], dict[str, str]]:
    """Bulk load the small and the large shard; find each list's middle cursor and plan."""
    counts = {"small": sizes.small_users, "neighbour": sizes.small_users}
    counts["large"] = sizes.large_users
    labels = {
        "small": f"{count(sizes.small_users)} users, own shard file",
        "neighbour": f"{count(sizes.small_users)} users, in the {count(sizes.large_users)} file",
        "large": f"{count(sizes.large_users)} users",
    }
    loads: dict[str, BulkLoad] = {}
    subjects: dict[str, Subject] = {}
    plans: dict[str, str] = {}
    for shard_role, roles in (("small", ["small"]), ("large", ["large", "neighbour"])):
        shard = await install.open(shard_role)
        try:
            users = {install.issuers[role]: counts[role] for role in roles}
            loads[shard_role] = await bulk_load(shard, users)
            for role in roles:
                issuer = install.issuers[role]
                middle = await middle_id(shard, issuer, counts[role])
                subjects[role] = Subject(labels[role], shard_role, issuer, middle)
                plans[labels[role]] = await list_plan(shard, issuer, middle)
        finally:
            await shard.close()
    return loads, [subjects[role] for role in labels], plans


async def measure_lists(
    install: Install, subjects: Sequence[Subject], rounds: int, on: frozenset[int]
) -> list[ListResult]:
    """`ResourceStore.page` as the list handler calls it, round-robin over every case."""
    cases = [(subject, page) for subject in subjects for page in PAGES]
    samples: dict[tuple[str, str], list[float]] = {(s.label, p): [] for s, p in cases}
    with cores.pinned(on):
        shards = {role: await install.open(role) for role in {s.shard for s in subjects}}
        try:
            for number in range(LIST_WARMUP + rounds):
                for subject, page in cases:
                    start = time.perf_counter_ns()
                    rows = await shards[subject.shard].resources.page(
                        subject.issuer,
                        USER.name,
                        after=subject.after(page),
                        limit=DEFAULT_LIMIT + 1,
                    )
                    elapsed_ms = (time.perf_counter_ns() - start) / 1e6
                    if len(rows) != DEFAULT_LIMIT + 1:
                        raise RuntimeError(f"{subject.label}: a {page} page of {len(rows)} rows")
                    if number >= LIST_WARMUP:
                        samples[(subject.label, page)].append(elapsed_ms)
        finally:
            for shard in shards.values():
                await shard.close()
    return [
        ListResult("in-process", page, label, Percentiles.of(values))
        for (label, page), values in samples.items()
    ]


async def measure_creates(
    install: Install, shard_role: str, issuer_role: str, creates: int, on: frozenset[int]
) -> WriteResult:
    """Sequential `Graph.create`s, each validated and in its own transaction with its event."""
    actor = install.token.split(".", 1)[0]
    issuer = install.issuers[issuer_role]
    with cores.pinned(on):
        shard = await install.open(shard_role)
        try:
            graph = Graph(shard.resources, shard.outbox, SystemClock())
            samples: list[float] = []
            cpu, start = time.process_time(), time.perf_counter()
            for number in range(creates):
                begin = time.perf_counter_ns()
                fields = USER.create.validate({"email": f"user{number}@writes.example"})
                async with shard.database.transaction() as tx:
                    await graph.create(tx, USER, issuer, fields, parent=None, actor=actor)
                samples.append((time.perf_counter_ns() - begin) / 1e6)
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
            rows, events = await created_users(shard, issuer)
        finally:
            await shard.close()
    if rows != creates or events != creates:
        raise RuntimeError(f"{creates} creates left {rows} users and {events} events")
    return WriteResult(
        "in-process", shard_role, 1, creates, seconds, Percentiles.of(samples), cpu / seconds
    )


# the HTTP half


def measure_http(
    install: Install, subjects: Sequence[Subject], sizes: Sizes, placement: cores.Placement
) -> tuple[list[ListResult], list[WriteResult]]:
    """One node on the server core; the load generator on the client core, in sequence."""
    node = PinnedGranian(
        name="node fra",
        target=NODE_TARGET,
        env={"FLY_REGION": "fra", "AUTHPI_DATA_DIR": str(install.data_dir)},
        cores=placement.server,
    )
    node.start(os.environ)
    try:
        node.wait_ready()
        base = f"/v1/accounts/{install.account_id}/issuers"
        paths = {"floor|GET /health": "/health"}
        for subject, page in ((s, p) for s in subjects for p in PAGES):
            path = f"{base}/{subject.issuer}/users?limit={DEFAULT_LIMIT}"
            after = subject.after(page)
            if after is not None:  # a cursor is the position (id) of the last item seen
                path += f"&cursor={after}"
            check_page(node.url + path, install.token, after)
            paths[f"{page}|{subject.label}"] = path
        spec: dict[str, Any] = {"base_url": node.url, "token": install.token}
        lists_job = {
            "name": "lists",
            "method": "GET",
            "paths": paths,
            "requests": sizes.list_rounds,
            "warmup": LIST_WARMUP,
        }
        lists = []
        for outcome in generate_load({**spec, "jobs": [lists_job]}, placement.client):
            _check(outcome)
            page, _, label = outcome["name"].partition("|")
            lists.append(ListResult("HTTP", page, label, Percentiles.of(outcome["latencies_ms"])))
        writes = []
        for concurrency in HTTP_CONCURRENCY:
            job = {
                "name": f"c{concurrency}",
                "method": "POST",
                "path": f"{base}/{install.issuers['http-writes']}/users",
                "seconds": sizes.http_seconds,
                "warmup": HTTP_WARMUP_SECONDS,
                "concurrency": concurrency,
                "email_prefix": f"c{concurrency}-",
            }
            run = {**spec, "jobs": [job], "server_session": node.session}
            [outcome] = generate_load(run, placement.client)
            _check(outcome)
            seconds = outcome["seconds"]
            writes.append(
                WriteResult(
                    "HTTP",
                    "writes",
                    concurrency,
                    outcome["ok"],
                    seconds,
                    Percentiles.of(outcome["latencies_ms"]),
                    outcome["server_cpu_seconds"] / seconds,
                    outcome["client_cpu_seconds"] / seconds,
                )
            )
        return lists, writes
    finally:
        node.stop()


async def check_http_creates(install: Install, acknowledged: int) -> None:
    """Every 201 left a user and its event (warm-up creates included in the counts)."""
    shard = await install.open("writes")
    try:
        rows, events = await created_users(shard, install.issuers["http-writes"])
    finally:
        await shard.close()
    if rows != events or rows < acknowledged:
        raise RuntimeError(f"{acknowledged} acknowledged creates, {rows} users, {events} events")


def check_page(url: str, token: str, after: str | None) -> None:
    """The page is a full page of users after `after`, so its timings measure a list."""
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    users = response.json().get("data", []) if response.status_code == 200 else []
    if len(users) != DEFAULT_LIMIT or (after is not None and users[0]["id"] <= after):
        raise RuntimeError(f"GET {url} is not a page after {after}: {response.text[:300]}")


def _check(outcome: dict[str, Any]) -> None:
    if outcome["errors"]:
        raise RuntimeError(f"{outcome['name']}: failed requests {outcome['errors']}")


# the command


def count(number: int) -> str:
    """1000 -> 1k, 1000000 -> 1M."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if number >= size and number % size == 0:
            return f"{number // size}{suffix}"
    return f"{number:,}"


def conditions(sizes: Sizes, placement: cores.Placement) -> list[str]:
    return [
        f"Pinning: {placement.describe()}. In-process, the benchmark's event loop and the"
        " shard's aiosqlite threads share the server core; over HTTP, granian (one worker)"
        " and its threads do.",
        "Shards: real SQLite files in a temporary directory, WAL, `synchronous=NORMAL`"
        " (the project's settings), warm OS page cache.",
        f"Lists: {sizes.list_rounds:,} timed rounds after {LIST_WARMUP} warm-up rounds; a round"
        " requests every case once, in sequence (HTTP: one keep-alive connection). `first` is"
        f" `?limit={DEFAULT_LIMIT}`; `middle` adds the cursor after the issuer's middle user."
        f" In-process calls `ResourceStore.page(limit={DEFAULT_LIMIT + 1})` as the handler does."
        " HTTP latency is the client's, from write to last byte read.",
        f"Creates: in-process, {sizes.creates:,} sequential `Graph.create`s per shard, each"
        " validating the body and writing the user and its `user.created` event in one"
        f" transaction; HTTP, `POST .../users` for {sizes.http_seconds:g} s per concurrency"
        f" after {HTTP_WARMUP_SECONDS:g} s of warm-up, one keep-alive connection per worker.",
        "Load generator: `bench.loadgen`, asyncio with a minimal HTTP/1.1 client"
        " (`bench.http1`), in its own process; loopback only.",
    ]


def run(sizes: Sizes, data_dir: Path) -> Results:
    placement = cores.choose()
    install = asyncio.run(prepare(data_dir, PLACEMENT))
    loads, subjects, plans = asyncio.run(load(install, sizes))
    for role, bulk in loads.items():
        print(f"bulk load {role}: {bulk.rows:,} rows in {bulk.seconds:.1f} s", flush=True)
    lists = asyncio.run(measure_lists(install, subjects, sizes.list_rounds, placement.server))
    print("in-process lists measured", flush=True)
    writes = [
        asyncio.run(measure_creates(install, shard, issuer, sizes.creates, placement.server))
        for shard, issuer in (("writes", "writes"), ("large", "large-writes"))
    ]
    print("in-process creates measured", flush=True)
    http_lists, http_writes = measure_http(install, subjects, sizes, placement)
    asyncio.run(check_http_creates(install, sum(w.creates for w in http_writes)))
    return Results(
        mode=sizes.mode,
        small=f"{count(sizes.small_users)} users",
        large=f"{count(sizes.large_users)} users",
        conditions=conditions(sizes, placement),
        loads=loads,
        plans=plans,
        lists=lists + http_lists,
        writes=writes + http_writes,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.core_api",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small counts: under a minute")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown results")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="authpi-bench-") as data_dir:
        results = run(sizes, Path(data_dir))
    command = "python -m bench.core_api" + (" --quick" if args.quick else "")
    text = render(results, command) + f"\nWhole run: {time.perf_counter() - started:.0f} s.\n"
    report.write(args.output, text)
    print(text)


if __name__ == "__main__":
    main()
