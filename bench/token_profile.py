"""Where a node spends its time on `POST /{issuer}/token` (or another edge endpoint): py-spy
samples under wrk load.

    python -m bench.token_profile [--endpoint token|introspection|jwks] [--seconds N]
                                  [--output PATH] [--raw PATH]

One AuthPI node (granian, one worker) pinned to one core with a warm edge snapshot, as in
`bench.tokens`; wrk on the other core sends the endpoint's requests (client_credentials and
introspection with client_secret_basic) as fast as its connections allow, while py-spy
samples the node's Python threads (without pausing them, and only those running: idle threads
waiting for work are not counted).

The report gives each function's share of the samples inclusively (the function and what it
calls) and by itself, and the shares of a few groups of code, all as shares of the Python
samples. A frame's own time includes the native code it calls without a Python frame: the
ECDSA signature inside `KeyMaterial.sign`, granian's Rust side inside the calls that read the
request and write the response. The node's CPU use (of its one core) is given beside the samples.
py-spy comes from the `bench` extra: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench import cores, report, wrk
from bench.processes import session_cpu_seconds
from bench.tokens import CONNECTIONS, start_authpi

RESULTS: Final = Path(__file__).parent / "results"
PATHS: Final = {
    "token": "POST /{issuer}/token",
    "introspection": "POST /{issuer}/introspect",
    "jwks": "GET /{issuer}/jwks.json",
}
SAMPLE_RATE: Final = 250  # per second
TOP: Final = 30
# One frame of py-spy's raw output: `function (path:line)`, the path relative to sys.path.
_FRAME: Final = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")
GROUPS: Final = (  # (label, path prefixes): where a sample's innermost Python frame is
    ("AuthPI: api/oauth", ("api/oauth/",)),
    ("AuthPI: runtime/edge.py (the ES256 signature)", ("runtime/edge.py",)),
    ("AuthPI: runtime, other", ("runtime/",)),
    ("AuthPI: other", ("api/", "shards/")),
    ("starlette", ("starlette/",)),
    ("asyncio event loop", ("asyncio/", "selectors.py")),
    ("standard library, other", ("random.py", "secrets.py", "base64.py", "urllib/", "re/")),
)
# Frames that only start the process or run the loop: every sample has them, they say nothing.
BOOTSTRAP: Final = ("granian", "click/", "multiprocessing/", "asyncio/", "<string>")


@dataclass(frozen=True, slots=True)
class Profile:
    samples: int
    inclusive: Counter[str]
    own: Counter[str]
    leaf_groups: Counter[str]


def parse(lines: Iterable[str]) -> Profile:
    """py-spy's raw (collapsed) stacks: `frame;frame;...;leaf count` per line."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    leaf_groups: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for raw in stack.split(";") if (frame := _frame(raw)) is not None]
        if not frames:
            continue
        total += count
        for name in dict.fromkeys(n for n, path in frames if not path.startswith(BOOTSTRAP)):
            inclusive[name] += count
        leaf_name, leaf_path = frames[-1]
        own[leaf_name] += count
        leaf_groups[_group(leaf_path)] += count
    return Profile(total, inclusive, own, leaf_groups)


def _frame(raw: str) -> tuple[str, str] | None:
    match = _FRAME.match(raw.strip())
    if match is None:  # process and thread lines
        return None
    path = match["path"]
    return f"{match['function']} ({path})", path


def _group(path: str) -> str:
    for label, prefixes in GROUPS:
        if path.startswith(prefixes):
            return label
    return "other"


def record(endpoint: str, seconds: float, keep: Path | None) -> tuple[Profile, float, float]:
    """Profile a loaded node; the profile, wrk's requests/s and the node's CPU share."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is needed: pip install -e '.[bench]'")
    placement = cores.choose()
    with tempfile.TemporaryDirectory(prefix="authpi-profile-") as data_dir:
        node, server = start_authpi(Path(data_dir), placement.server)
        try:
            request = server.requests[endpoint]()
            wrk.run(server.url, request, seconds=2, connections=CONNECTIONS, cores=placement.client)
            raw = Path(data_dir) / "profile.txt"
            sampler = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(node.session),
                    "--subprocesses",
                    "--nonblocking",
                    "--rate",
                    str(SAMPLE_RATE),
                    "--duration",
                    str(round(seconds)),
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(1)  # py-spy attaches before the measured load starts
            before = session_cpu_seconds(node.session)
            load = wrk.run(
                server.url,
                request,
                seconds=seconds,
                connections=CONNECTIONS,
                cores=placement.client,
            )
            cpu = (session_cpu_seconds(node.session) - before) / load.seconds
            _, errors = sampler.communicate(timeout=seconds + 30)
            if sampler.returncode != 0 or not raw.exists():
                raise RuntimeError(f"py-spy failed: {errors.decode()[-2000:]}")
            profile = parse(raw.read_text().splitlines())
            if keep is not None:
                shutil.copyfile(raw, keep)
        finally:
            node.stop()
    return profile, load.rate, cpu


def render(
    endpoint: str, profile: Profile, rate: float, cpu: float, seconds: float, command: str
) -> str:
    def share(count: int) -> str:
        return f"{count / profile.samples:.1%}"

    lines = [
        f"# Where `{PATHS[endpoint]}` spends its time",
        "",
        f"Command: `{command}`. {profile.samples:,} samples of running Python threads over"
        f" {seconds:g} s at {SAMPLE_RATE}/s, under wrk at {rate:,.0f} requests/s"
        f" ({CONNECTIONS} connections); the node used {cpu:.0%} of its core.",
        "",
        report.table(["", ""], [[k, str(v)] for k, v in report.machine()[:4]]),
        "",
        "## By group, where the time is spent itself",
        "",
        report.table(
            ["group", "share"],
            [[label, share(count)] for label, count in profile.leaf_groups.most_common()],
        ),
        "",
        f"## Top {TOP} functions, inclusive (with what they call)",
        "",
        report.table(
            ["function", "share"],
            [[f"`{name}`", share(count)] for name, count in profile.inclusive.most_common(TOP)],
        ),
        "",
        f"## Top {TOP} functions by their own time",
        "",
        report.table(
            ["function", "share"],
            [[f"`{name}`", share(count)] for name, count in profile.own.most_common(TOP)],
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.token_profile", description=__doc__)
    parser.add_argument("--endpoint", choices=sorted(PATHS), default="token")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--output", type=Path, help="default: bench/results/profile_ENDPOINT.md")
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    args = parser.parse_args(argv)
    wrk.binary()
    profile, rate, cpu = record(args.endpoint, args.seconds, args.raw)
    command = f"python -m bench.token_profile --endpoint {args.endpoint}"
    text = render(args.endpoint, profile, rate, cpu, args.seconds, command)
    report.write(args.output or RESULTS / f"profile_{args.endpoint}.md", text)
    print(text)


if __name__ == "__main__":
    main()
