"""wrk, the load tool of the token benchmark: one thread on the load core, a fixed number of
keep-alive connections, the request and an optional steady rate given to `wrk.lua`.

wrk (C, epoll) is the same tool for both servers and costs far less CPU per request than
either of them, so one core of it keeps one server core busy. wrk comes from Debian's
package (`apt-get install wrk`); its LuaJIT runs the script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from bench.cores import pin_child

SCRIPT: Final = Path(__file__).with_name("wrk.lua")
TIMEOUT_SECONDS: Final = 5  # a request slower than this counts as a timeout


class WrkMissing(RuntimeError):
    """wrk is not on PATH."""


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: str = ""
    authorization: str = ""


@dataclass(frozen=True, slots=True)
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    errors: Mapping[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    client_cpu: float  # wrk's CPU time over wall time: 1.0 is its core busy
    rate_asked: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.rate, 1),
            "errors": dict(self.errors),
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "client_cpu": round(self.client_cpu, 3),
            "rate_asked": self.rate_asked,
        }


def binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing("wrk is needed: apt-get install wrk")
    return found


def version() -> str:
    """`wrk 4.1.0 [epoll]`: wrk prints its version with its usage, and exits 1."""
    shown = subprocess.run([binary(), "-v"], capture_output=True, text=True, check=False)
    return (shown.stdout or shown.stderr).splitlines()[0].split(" Copyright")[0].strip()


def run(
    base_url: str,
    request: Request,
    *,
    seconds: float,
    connections: int,
    cores: frozenset[int],
    rate: float | None = None,
) -> Load:
    """One wrk run on `cores`; raises if wrk fails or prints no summary."""
    env = {
        **os.environ,
        "BENCH_METHOD": request.method,
        "BENCH_PATH": request.path,
        "BENCH_BODY": request.body,
        "BENCH_AUTHORIZATION": request.authorization,
        "BENCH_RATE": f"{rate:.3f}" if rate else "",
    }
    command = [
        binary(),
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{TIMEOUT_SECONDS}s",
        "--script",
        str(SCRIPT),
        base_url,
    ]
    before = os.times()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=pin_child(cores),
    )
    stdout, stderr = process.communicate(timeout=seconds + 60)
    # communicate() has reaped wrk, so its CPU time is in the counters of reaped children.
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    summary = _summary(stdout)
    if process.returncode != 0 or summary is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr.decode()[-2000:]}")
    duration = summary["duration_us"] / 1e6
    latency = summary["latency_us"]
    return Load(
        requests=summary["requests"],
        seconds=duration,
        errors={kind: count for kind, count in summary["errors"].items() if count},
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        client_cpu=cpu / duration if duration else 0.0,
        rate_asked=rate,
    )


def _summary(stdout: bytes) -> dict[str, Any] | None:
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        if line.startswith("{"):
            parsed: dict[str, Any] = orjson.loads(line)
            return parsed
    return None
