"""`authpi serve`: a one-region install, as its README section describes it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.processes import free_port

AUTHPI = str(Path(sys.executable).with_name("authpi"))


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {
        **os.environ,
        "FLY_REGION": "ams",
        "AUTHPI_DATA_DIR": str(tmp_path),
        "AUTHPI_PUBLIC_URL": "https://id.example.eu",
    }
    process = subprocess.Popen(
        [AUTHPI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("created shard shd_")
        _wait_ready(url, process)
        yield url, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    """Poll the health endpoint; between polls, wait on the process so an exit shows at once."""
    for _ in range(400):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)
            raise AssertionError(f"authpi serve exited with {process.returncode}")
    raise TimeoutError("authpi serve never became ready")


def test_a_one_region_install_serves_issuers_for_an_account_made_with_ops(
    node: tuple[str, Path],
) -> None:
    url, data_dir = node
    created = subprocess.run(
        [AUTHPI, "ops", "--data-dir", str(data_dir), "--json", "accounts", "create", "Acme"],
        capture_output=True,
        text=True,
        check=True,
    )
    account = httpx.Response(200, content=created.stdout).json()
    response = httpx.post(
        f"{url}/v1/accounts/{account['account_id']}/issuers",
        json={"name": "Acme NL", "jurisdiction": "eu"},
        headers={"Authorization": f"Bearer {account['api_key']}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["home_region"] == "ams"
    issuer = response.json()["id"]
    discovery = httpx.get(f"{url}/{issuer}/.well-known/openid-configuration")
    assert discovery.json()["issuer"] == f"https://id.example.eu/{issuer}"


@pytest.mark.parametrize(("flags", "logged"), [((), True), (("--no-access-log",), False)])
def test_serve_logs_each_request_unless_told_not_to(
    tmp_path: Path, flags: tuple[str, ...], logged: bool
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    output = tmp_path / "output.log"
    env = {**os.environ, "FLY_REGION": "ams", "AUTHPI_DATA_DIR": str(tmp_path / "data")}
    with output.open("w") as sink:
        process = subprocess.Popen(
            [AUTHPI, "serve", "--host", "127.0.0.1", "--port", str(port), *flags],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_ready(url, process)
            assert httpx.get(f"{url}/i_nowhere/jwks.json").status_code == 404
        finally:
            process.terminate()
            process.wait(timeout=10)
    line = '"GET /i_nowhere/jwks.json HTTP/1.1" 404'
    assert (line in output.read_text()) is logged
