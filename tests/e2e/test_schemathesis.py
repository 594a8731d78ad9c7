"""Schemathesis, every check, over every operation of the served OpenAPI document.

A real node on loopback, a real account key. Every phase runs (examples, coverage, fuzzing,
stateful), bounded and reproducible: a fixed number of examples per operation and of steps per
stateful scenario, derandomized generation, no example database or cache carried between runs,
and a timeout on every request, so a request that never completes fails the run instead of
stalling it. `412 Precondition Failed` is an expected answer to a valid request (a stale ETag
cannot be described in a schema); nothing else is excused.

`AUTHPI_SCHEMATHESIS_EXAMPLES` raises the number of examples for a deeper run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from runtime.processes import GranianProcess
from tests.e2e.conftest import one_region_node

ROOT: Final = Path(__file__).resolve().parents[2]
SCHEMATHESIS: Final = str(Path(sys.executable).with_name("schemathesis"))
EXAMPLES_PER_OPERATION: Final = int(os.environ.get("AUTHPI_SCHEMATHESIS_EXAMPLES", "25"))
STATEFUL_MAX_STEPS: Final = 10
# Every Core API answer takes milliseconds; a request still open after this is a hang.
REQUEST_TIMEOUT_SECONDS: Final = 10
# About 90 s on two busy cores at 25 examples: room for a slow machine, not for a stall.
RUN_TIMEOUT_SECONDS: Final = 420


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[GranianProcess, str, str, str]]:
    # Webhook URLs: the generated hosts resolve nowhere, and a destination refused by the
    # SSRF guard is a 422 for a request the schema cannot tell from a valid one; the guard
    # has its own tests.
    with one_region_node(tmp_path, "Fuzz", AUTHPI_WEBHOOKS_ALLOW_PRIVATE="1") as node:
        yield node


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 60)
def test_every_operation_passes_every_check(
    node: tuple[GranianProcess, str, str, str], tmp_path: Path
) -> None:
    process, account_id, issuer_id, token = node
    run = tmp_path / "schemathesis"
    run.mkdir()
    config = run / "schemathesis.toml"
    config.write_text(
        f"""
request-timeout = {REQUEST_TIMEOUT_SECONDS}
workers = 1

[auth.openapi.apiKey]
bearer = "{token}"

[generation]
max-examples = {EXAMPLES_PER_OPERATION}
deterministic = true
database = "none"

[cache]
enabled = false

[phases.stateful]
max-steps = {STATEFUL_MAX_STEPS}

[checks.positive_data_acceptance]
# The tool's defaults less 429 and 5xx (no rate limit here; a 5xx is a bug), plus 412.
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412"]
"""
    )
    result = subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            str(config),
            "run",
            f"{process.url}/v1/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--report-dir",
            str(run / "report"),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        cwd=run,  # whatever the tool writes stays out of the source tree
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
            "AUTHPI_FUZZ_ACCOUNT": account_id,
            "AUTHPI_FUZZ_ISSUER": issuer_id,
        },
        check=False,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
