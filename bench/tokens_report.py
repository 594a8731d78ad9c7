"""The token benchmark's results as Markdown: the machine and its load, the conditions, one
table per endpoint, and the ratios against the issue's targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bench import report

TITLES: Final = {
    "jwks": "JWKS (`GET .../jwks.json`, `GET /jwks`)",
    "token": "client_credentials (`POST .../token`, client_secret_basic)",
    "introspection": "introspection (`POST .../introspect`, client_secret_basic)",
}


def render(results: Mapping[str, Any], command: str) -> str:
    summary = results["summary"]
    names = list(next(iter(summary.values()))["servers"])
    ours, theirs = names
    conditions = results["conditions"]
    lines = [
        f"# Token endpoints: {ours} beside {theirs}",
        "",
        f"Command: `{command}` ({results['mode']}, {results['seconds']} s of load).",
        "",
        report.table(["", ""], [[k, str(v)] for k, v in results["machine"].items()]),
        "",
        f"Load average (1, 5, 15 min) before: {_load(results['load_average_before'])};"
        f" after: {_load(results['load_average_after'])}. Pinning: {results['placement']}.",
        "",
        f"wrk, one thread, {conditions['connections']} keep-alive connections for both servers;"
        f" {conditions['rounds']} round(s) of {conditions['seconds_per_run']:g} s per run,"
        " medians over rounds. Half load is a paced run at half of the server's own peak.",
        "",
        "## Ratios",
        "",
        report.table(
            [
                "endpoint",
                "req/s ratio",
                "target",
                "verdict",
                "CPU per request, peer over AuthPI",
                "p99 at half load, AuthPI over peer",
            ],
            [
                [
                    endpoint,
                    f"**{entry['throughput_ratio']:.2f}x**",
                    f"{entry['target_ratio']:g}x",
                    "met" if entry["met"] else "missed",
                    f"{entry['cpu_per_request_ratio']:.2f}x",
                    f"{entry['p99_at_half_ratio']:.2f}",
                ]
                for endpoint, entry in summary.items()
            ],
        ),
        "",
        "The CPU ratio divides the peer's server CPU time per request at peak by AuthPI's: the"
        " throughput ratio two otherwise idle cores would show. A p99 ratio under 1 means"
        " AuthPI's tail at half of its peak is shorter than the peer's at half of the peer's"
        " peak.",
    ]
    for endpoint, entry in summary.items():
        lines += ["", f"## {TITLES[endpoint]}", ""]
        rows = []
        for name, figures in entry["servers"].items():
            rows.append(
                [
                    name,
                    f"{figures['requests_per_second']:,.0f}",
                    f"{figures['p99_at_peak_ms']:.2f}",
                    f"{figures['half_rate']:,.0f}",
                    f"{figures['p50_at_half_ms']:.2f}",
                    f"{figures['p99_at_half_ms']:.2f}",
                    f"{figures['server_cpu_at_peak']:.0%}",
                    f"{figures['server_cpu_us_per_request']:.0f}",
                    f"{figures['client_cpu_at_peak']:.0%}",
                ]
            )
        lines.append(
            report.table(
                [
                    "server",
                    "peak req/s",
                    "p99 at peak ms",
                    "half load req/s",
                    "p50 at half ms",
                    "p99 at half ms",
                    "server CPU",
                    "server CPU µs/req",
                    "wrk CPU",
                ],
                rows,
            )
        )
    return "\n".join(lines) + "\n"


def _load(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)
