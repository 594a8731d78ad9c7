"""The processes of the HTTP half: one pinned granian node, and load generators beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from bench.cores import pin_child
from runtime.processes import LOOPBACK, GranianProcess, granian_command

REPOSITORY: Final = Path(__file__).resolve().parent.parent  # so `-m bench.loadgen` imports
LOAD_TIMEOUT_SECONDS: Final = 600.0  # a stuck generator fails the run instead of hanging it


@dataclass
class PinnedGranian(GranianProcess):
    """`GranianProcess` started on the given cores, its workers and threads with it."""

    cores: frozenset[int] = field(default_factory=frozenset)

    def start(self, base_env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            granian_command(self.target, LOOPBACK, self.port, interface=self.interface),
            env={**base_env, **self.env},
            start_new_session=True,
            preexec_fn=pin_child(self.cores),
        )

    @property
    def session(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid


def generate_load(spec: Mapping[str, Any], cores: frozenset[int]) -> Any:
    """Run `bench.loadgen` on `cores` with this spec; return what it reports."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=orjson.dumps(dict(spec)),
        capture_output=True,
        cwd=REPOSITORY,
        timeout=LOAD_TIMEOUT_SECONDS,
        preexec_fn=pin_child(cores),
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"the load generator failed ({completed.returncode}):\n{completed.stderr.decode()}"
        )
    return orjson.loads(completed.stdout)


def session_cpu_seconds(session: int) -> float:
    """User plus system CPU time of every live process in a session (granian and its workers)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parens
        if int(fields[3]) == session:  # field 6, `session`
            ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15, utime and stime
    return ticks / os.sysconf("SC_CLK_TCK")
