"""The peer of the token benchmark: node-oidc-provider (`bench/oidc_provider/`), one node
process pinned to the server core, configured as `server.mjs` says.

Its packages are locked in `bench/oidc_provider/package-lock.json`; the first run installs
them with `npm ci`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
import orjson

from bench.cores import pin_child
from runtime.processes import LOOPBACK, free_port

PEER_DIR: Final = Path(__file__).with_name("oidc_provider")
READY_TIMEOUT_SECONDS: Final = 30.0


def install() -> None:
    """`npm ci` in the peer's folder, unless its packages are there already."""
    if (PEER_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("node and npm are needed to run the peer")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER_DIR, check=True
    )


def version() -> str:
    manifest = PEER_DIR / "node_modules" / "oidc-provider" / "package.json"
    found: str = orjson.loads(manifest.read_bytes())["version"]
    return found


@dataclass
class OidcProvider:
    client_id: str
    client_secret: str
    scope: str
    cores: frozenset[int]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def session(self) -> int:
        if self.process is None:
            raise RuntimeError("the peer is not running")
        return self.process.pid

    def start(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is needed to run the peer")
        settings = {
            "port": self.port,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": self.scope,
        }
        self.process = subprocess.Popen(
            [node, str(PEER_DIR / "server.mjs"), orjson.dumps(settings).decode()],
            env={**os.environ, "NODE_ENV": "production"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # its start-up warnings are about the development adapter
            start_new_session=True,
            preexec_fn=pin_child(self.cores),
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited with status {self.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/jwks", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"oidc-provider was not ready on {self.url}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
