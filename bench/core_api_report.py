"""The Core API benchmark's results, and their Markdown: the machine, the conditions, the
tables, and a verdict against each target of the issue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bench import report
from bench.install import BULK_BATCH, BulkLoad
from bench.latency import Percentiles

CREATES_TARGET: Final = 1_500  # per second, one shard, one core
LIST_RATIO_TARGET: Final = 1.10  # p50 of a list at 1M users over its p50 at 1k
BASELINE: Final = "own shard file"  # the 1k-user issuer every ratio divides by


@dataclass(frozen=True, slots=True)
class ListResult:
    path: str  # in-process or HTTP
    page: str  # first, middle, or floor (GET /health)
    subject: str
    latency: Percentiles


@dataclass(frozen=True, slots=True)
class WriteResult:
    path: str
    shard: str
    concurrency: int
    creates: int
    seconds: float
    latency: Percentiles
    cpu: float  # the server side's CPU time over wall time: 1.0 is one core busy
    client_cpu: float | None = None  # the load generator's, likewise

    @property
    def rate(self) -> float:
        return self.creates / self.seconds


@dataclass(frozen=True, slots=True)
class Results:
    mode: str
    small: str  # "1k users"
    large: str  # "1M users"
    conditions: Sequence[str]
    loads: Mapping[str, BulkLoad]
    plans: Mapping[str, str]
    lists: Sequence[ListResult]
    writes: Sequence[WriteResult]

    def ratio(self, result: ListResult) -> float | None:
        """This list's p50 over the p50 of the 1k-user issuer alone, same path and page."""
        for base in self.lists:
            if (base.path, base.page) == (result.path, result.page) and BASELINE in base.subject:
                return result.latency.p50 / base.latency.p50
        return None


def render(results: Results, command: str) -> str:
    sections = [
        f"# Core API benchmark ({results.mode})",
        f"Command: `{command}`",
        report.table(["Machine", ""], [list(item) for item in report.machine()]),
        "Conditions:\n\n" + "\n".join(f"- {line}" for line in results.conditions),
        _creates(results),
        _lists(results),
        _bulk_load(results),
    ]
    return "\n\n".join(sections) + "\n"


def _creates(results: Results) -> str:
    rows = [
        [
            w.path,
            w.shard,
            str(w.concurrency),
            f"{w.creates:,}",
            f"{w.seconds:.1f}",
            f"**{w.rate:,.0f}**",
            _ms(w.latency.p50),
            _ms(w.latency.p99),
            f"{w.cpu:.0%}",
            "-" if w.client_cpu is None else f"{w.client_cpu:.0%}",
            "met" if w.rate >= CREATES_TARGET else "missed",
        ]
        for w in results.writes
    ]
    headers = [
        "Path",
        "Shard",
        "Concurrency",
        "Creates",
        "Seconds",
        "Creates/s",
        "p50 ms",
        "p99 ms",
        "Server CPU",
        "Client CPU",
        "Target",
    ]
    return "\n\n".join(
        [
            f"## Creates per second (target: at least {CREATES_TARGET:,}/s on one shard, one core)",
            report.table(headers, rows),
            "The `writes` shard starts empty; `large` already holds its"
            f" {results.loads['large'].rows:,} bulk-loaded rows."
            " CPU: CPU time over wall time, 100% being one core: of the benchmark process"
            " (in-process) or of the granian session and of the load generator (HTTP).",
        ]
    )


def _lists(results: Results) -> str:
    rows = []
    for result in results.lists:
        ratio = results.ratio(result)
        rows.append(
            [
                result.path,
                result.page,
                result.subject,
                _ms(result.latency.p50),
                _ms(result.latency.p95),
                _ms(result.latency.p99),
                "-" if ratio is None else f"{ratio:.2f}",
            ]
        )
    verdicts = []
    for result in results.lists:
        ratio = results.ratio(result)
        if result.subject == results.large and ratio is not None:
            verdict = "met" if ratio <= LIST_RATIO_TARGET else "missed"
            verdicts.append([result.path, result.page, f"**{ratio:.2f}**", verdict])
    plans = "\n".join(f"- {label}: `{plan}`" for label, plan in results.plans.items())
    return "\n\n".join(
        [
            f"## List latency (target: p50 at {results.large} within"
            f" {LIST_RATIO_TARGET - 1:.0%} of {results.small})",
            report.table(
                ["Path", "Page", "Issuer", "p50 ms", "p95 ms", "p99 ms", "p50 ÷ base p50"], rows
            ),
            f"The base is the {results.small} issuer alone in its shard file.",
            report.table(
                ["Path", "Page", f"p50 {results.large} ÷ p50 {results.small}", "Target"],
                verdicts,
            ),
            f"SQLite's plan for a list with a cursor:\n\n{plans}",
        ]
    )


def _bulk_load(results: Results) -> str:
    rows = [
        [
            role,
            f"{load.rows:,}",
            f"{load.seconds:.1f}",
            f"{load.rows_per_second:,.0f}",
            f"{load.file_bytes / 2**20:,.0f} MiB",
        ]
        for role, load in results.loads.items()
    ]
    return "\n\n".join(
        [
            "## Bulk load (setup, not a target)",
            report.table(["Shard", "Rows", "Seconds", "Rows/s", "File + WAL"], rows),
            f"`ResourceStore.insert` in transactions of {BULK_BATCH:,} rows;"
            " user rows only, no events.",
        ]
    )


def _ms(value: float) -> str:
    return f"{value:.2f}"
