"""`authpi ops` as an operator runs it: the installed command on a real data directory, with
no AUTHPI_ setting of the environment running the tests leaking into it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

AUTHPI = str(Path(sys.executable).with_name("authpi"))


def ops(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AUTHPI, "ops", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        check=False,
        env={name: value for name, value in os.environ.items() if not name.startswith("AUTHPI_")},
    )


def ops_json(data_dir: Path, *args: str) -> Any:
    result = ops(data_dir, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
