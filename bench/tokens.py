"""Token benchmark: AuthPI beside node-oidc-provider 9, on this machine, in one run.

    python -m bench.tokens [--quick] [--rounds N] [--output-dir DIR]

Both servers are configured alike: one confidential client, client_credentials with
client_secret_basic, ES256 JWT access tokens (RFC 9068) valid an hour, introspection, and a
JWKS with an ES256 and an RS256 key. AuthPI is one node (granian, one worker) whose edge
snapshot is warm; the peer is `bench/oidc_provider/server.mjs` under node with
NODE_ENV=production. Each is pinned to the same core and measured while the other idles; wrk
runs on the other core with one thread and the same connections for both.

Per round, per endpoint (JWKS, client_credentials, introspection), per server: a peak run
(as fast as the connections allow), then a run at half of that server's own peak, for its
p99. Servers alternate which goes first from round to round; figures are medians of rounds.

Targets (from the issue): AuthPI's requests/s at least 2.5x the peer's on JWKS, 1.5x on
client_credentials, 2x on introspection; and the p99 at half of peak load, reported.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import httpx
import orjson

from bench import cores, peer, report, wrk
from bench.install import REGION, prepare
from bench.processes import PinnedGranian, session_cpu_seconds
from bench.tokens_report import render
from runtime.dev import NODE_TARGET
from runtime.processes import free_port

ENDPOINTS: Final = ("jwks", "token", "introspection")
TARGETS: Final = {"jwks": 2.5, "token": 1.5, "introspection": 2.0}  # AuthPI over peer, req/s
CONNECTIONS: Final = 32  # keeps one server core busy with requests queued, for both servers
SCOPE: Final = "reports:read"
CLIENT_NAME: Final = "bench"
DEFAULT_OUTPUT: Final = Path(__file__).parent / "results"
QUIET_LOAD: Final = 0.3  # a one-minute load average under this counts as a quiet machine


@dataclass(frozen=True, slots=True)
class Sizes:
    mode: str
    rounds: int
    seconds: float  # per peak run and per half-load run
    warmup: float  # per endpoint and server, before its first round


FULL: Final = Sizes("full", 3, 10.0, 3.0)
QUICK: Final = Sizes("quick", 1, 4.0, 1.0)


@dataclass
class Server:
    """One server under test, with how to ask each endpoint."""

    name: str
    url: str
    session: int
    requests: dict[str, Callable[[], wrk.Request]]  # endpoint -> a request (introspection: fresh)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_of(url: str, authorization: str, body: dict[str, str]) -> str:
    response = httpx.post(url, data=body, headers={"Authorization": authorization}, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"POST {url}: {response.status_code} {response.text[:300]}")
    token: str = response.json()["access_token"]
    return token


def check(url: str, request: wrk.Request, expect: Callable[[dict[str, Any]], bool]) -> None:
    """The request answers 200 with the body the benchmark means to measure."""
    response = httpx.request(
        request.method,
        url + request.path,
        content=request.body or None,
        headers={
            **({"Authorization": request.authorization} if request.authorization else {}),
            **({"Content-Type": "application/x-www-form-urlencoded"} if request.body else {}),
        },
        timeout=10,
    )
    if response.status_code != 200 or not expect(response.json()):
        raise RuntimeError(f"{request.method} {url}{request.path}: {response.text[:300]}")


# the two servers


def start_authpi(data_dir: Path, on: frozenset[int]) -> tuple[PinnedGranian, Server]:
    install = asyncio.run(prepare(data_dir, {"tokens": "tokens"}))
    issuer = install.issuers["tokens"]
    port = free_port()
    node = PinnedGranian(
        name=f"node {REGION}",
        target=NODE_TARGET,
        port=port,
        env={
            "FLY_REGION": REGION,
            "AUTHPI_DATA_DIR": str(install.data_dir),
            "AUTHPI_PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
        cores=on,
    )
    node.start(os.environ)
    try:
        node.wait_ready()
        base = f"/v1/accounts/{install.account_id}/issuers/{issuer}"
        with httpx.Client(
            base_url=node.url, headers={"Authorization": f"Bearer {install.token}"}
        ) as api:
            client = api.post(
                f"{base}/clients", json={"name": CLIENT_NAME, "type": "m2m", "scopes": [SCOPE]}
            ).json()
            secret = api.post(
                f"{base}/clients/{client['id']}/verifiers", json={"type": "secret"}
            ).json()["secret"]
    except BaseException:
        node.stop()
        raise
    authorization = basic(client["id"], secret)
    token_body = f"grant_type=client_credentials&scope={SCOPE}"

    def introspection() -> wrk.Request:
        token = token_of(
            f"{node.url}/{issuer}/token",
            authorization,
            {"grant_type": "client_credentials", "scope": SCOPE},
        )
        return wrk.Request("POST", f"/{issuer}/introspect", f"token={token}", authorization)

    server = Server(
        "AuthPI",
        node.url,
        node.session,
        {
            "jwks": lambda: wrk.Request("GET", f"/{issuer}/jwks.json"),
            "token": lambda: wrk.Request("POST", f"/{issuer}/token", token_body, authorization),
            "introspection": introspection,
        },
    )
    return node, server


def start_peer(on: frozenset[int]) -> tuple[peer.OidcProvider, Server]:
    peer.install()
    secret = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    provider = peer.OidcProvider(CLIENT_NAME, secret, SCOPE, on)
    provider.start()
    authorization = basic(CLIENT_NAME, secret)
    token_body = f"grant_type=client_credentials&scope={SCOPE}"

    def introspection() -> wrk.Request:
        # oidc-provider introspects only opaque access tokens (see server.mjs).
        token = token_of(
            f"{provider.url}/token",
            authorization,
            {
                "grant_type": "client_credentials",
                "scope": SCOPE,
                "resource": "https://opaque.example.com/",
            },
        )
        return wrk.Request("POST", "/token/introspection", f"token={token}", authorization)

    server = Server(
        f"oidc-provider {peer.version()}",
        provider.url,
        provider.session,
        {
            "jwks": lambda: wrk.Request("GET", "/jwks"),
            "token": lambda: wrk.Request("POST", "/token", token_body, authorization),
            "introspection": introspection,
        },
    )
    return provider, server


def sanity(server: Server) -> None:
    """Each endpoint answers what it should before any load is measured."""
    check(server.url, server.requests["jwks"](), lambda body: len(body["keys"]) >= 2)
    check(
        server.url,
        server.requests["token"](),
        lambda body: (
            body["access_token"].count(".") == 2 and body["token_type"].lower() == "bearer"
        ),
    )
    check(server.url, server.requests["introspection"](), lambda body: body["active"] is True)


# the measurements


def measure(
    server: Server, request: wrk.Request, sizes: Sizes, client: frozenset[int], rate: float | None
) -> dict[str, Any]:
    before = session_cpu_seconds(server.session)
    load = wrk.run(
        server.url,
        request,
        seconds=sizes.seconds,
        connections=CONNECTIONS,
        cores=client,
        rate=rate,
    )
    cpu_seconds = session_cpu_seconds(server.session) - before
    if load.failed:
        raise RuntimeError(f"{server.name} {request.path}: failed requests {dict(load.errors)}")
    return {
        **load.as_dict(),
        "server_cpu": round(cpu_seconds / load.seconds, 3),
        "server_cpu_us_per_request": round(cpu_seconds / load.requests * 1e6, 1),
    }


def run_rounds(
    servers: Sequence[Server], sizes: Sizes, placement: cores.Placement
) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for number in range(sizes.rounds):
        order = list(servers) if number % 2 == 0 else list(reversed(servers))
        for endpoint in ENDPOINTS:
            for server in order:
                request = server.requests[endpoint]()
                if number == 0:
                    wrk.run(
                        server.url,
                        request,
                        seconds=sizes.warmup,
                        connections=CONNECTIONS,
                        cores=placement.client,
                    )
                    request = server.requests[endpoint]()
                peak = measure(server, request, sizes, placement.client, None)
                half = measure(
                    server,
                    server.requests[endpoint](),
                    sizes,
                    placement.client,
                    peak["requests_per_second"] / 2,
                )
                runs.append(
                    {"round": number, "endpoint": endpoint, "server": server.name}
                    | {"peak": peak, "half": half}
                )
                print(
                    f"round {number + 1} {endpoint:13} {server.name:22}"
                    f" {peak['requests_per_second']:9,.0f} req/s"
                    f"  p99 at half {half['p99_ms']:.2f} ms",
                    flush=True,
                )
    return runs


def summarise(runs: Sequence[dict[str, Any]], servers: Sequence[Server]) -> dict[str, Any]:
    ours, theirs = servers[0].name, servers[1].name
    summary: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        figures = {}
        for name in (ours, theirs):
            mine = [r for r in runs if r["endpoint"] == endpoint and r["server"] == name]
            figures[name] = {
                "requests_per_second": statistics.median(
                    r["peak"]["requests_per_second"] for r in mine
                ),
                "p99_at_peak_ms": statistics.median(r["peak"]["p99_ms"] for r in mine),
                "half_rate": statistics.median(r["half"]["requests_per_second"] for r in mine),
                "p50_at_half_ms": statistics.median(r["half"]["p50_ms"] for r in mine),
                "p99_at_half_ms": statistics.median(r["half"]["p99_ms"] for r in mine),
                "server_cpu_at_peak": statistics.median(r["peak"]["server_cpu"] for r in mine),
                "server_cpu_us_per_request": statistics.median(
                    r["peak"]["server_cpu_us_per_request"] for r in mine
                ),
                "client_cpu_at_peak": statistics.median(r["peak"]["client_cpu"] for r in mine),
            }
        ratio = figures[ours]["requests_per_second"] / figures[theirs]["requests_per_second"]
        summary[endpoint] = {
            "servers": figures,
            "throughput_ratio": round(ratio, 2),
            "target_ratio": TARGETS[endpoint],
            "met": ratio >= TARGETS[endpoint],
            # CPU time per request, the peer's over AuthPI's: what the throughput ratio would
            # be on cores that did nothing else, and less disturbed by neighbours than it.
            "cpu_per_request_ratio": round(
                figures[theirs]["server_cpu_us_per_request"]
                / figures[ours]["server_cpu_us_per_request"],
                2,
            ),
            "p99_at_half_ratio": round(
                figures[ours]["p99_at_half_ms"] / figures[theirs]["p99_at_half_ms"], 2
            ),
        }
    return summary


def machine() -> dict[str, str]:
    described = dict(report.machine()[:4])
    described["granian"] = version("granian")
    described["node"] = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    described["oidc-provider"] = peer.version()
    described["wrk"] = wrk.version()
    return described


def wait_quiet(limit: float) -> None:
    """Wait up to `limit` seconds for the one-minute load average to fall under QUIET_LOAD."""
    deadline = time.monotonic() + limit
    while os.getloadavg()[0] >= QUIET_LOAD and time.monotonic() < deadline:
        time.sleep(10)


def run(sizes: Sizes, data_dir: Path) -> dict[str, Any]:
    placement = cores.choose()
    node, ours = start_authpi(data_dir, placement.server)
    try:
        provider, theirs = start_peer(placement.server)
        try:
            servers = [ours, theirs]
            for server in servers:
                sanity(server)
            load_before = os.getloadavg()
            started = time.time()
            runs = run_rounds(servers, sizes, placement)
            load_after = os.getloadavg()
        finally:
            provider.stop()
    finally:
        node.stop()
    return {
        "mode": sizes.mode,
        "machine": machine(),
        "placement": placement.describe(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "seconds": round(time.time() - started),
        "conditions": {
            "connections": CONNECTIONS,
            "wrk_threads": 1,
            "seconds_per_run": sizes.seconds,
            "rounds": sizes.rounds,
            "warmup_seconds": sizes.warmup,
        },
        "summary": summarise(runs, servers),
        "runs": runs,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tokens",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="one short round: about a minute")
    parser.add_argument("--rounds", type=int, help="rounds (default: 3, or 1 with --quick)")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help=f"first wait up to this long for a load average under {QUIET_LOAD}",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.rounds:
        sizes = Sizes(sizes.mode, args.rounds, sizes.seconds, sizes.warmup)
    wrk.binary()  # fail before starting anything when wrk is missing
    wait_quiet(args.wait_quiet)
    with tempfile.TemporaryDirectory(prefix="authpi-bench-") as data_dir:
        results = run(sizes, Path(data_dir))
    command = "python -m bench.tokens" + (" --quick" if args.quick else "")
    report.write(args.output_dir / "tokens.json", report_json(results))
    text = render(results, command)
    report.write(args.output_dir / "tokens.md", text)
    print(text)


def report_json(results: dict[str, Any]) -> str:
    return orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() + "\n"


if __name__ == "__main__":
    main()
