"""Granian processes on loopback, for `authpi dev`, `authpi serve` and the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx

LOOPBACK: Final = "127.0.0.1"
READY_TIMEOUT_SECONDS: Final = 30.0
STOP_TIMEOUT_SECONDS: Final = 10.0


def free_port() -> int:
    """A TCP port the OS reports free on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def granian_command(
    target: str, host: str, port: int, *, interface: str = "rsgi", access_log: bool = False
) -> list[str]:
    """granian serving `target` (a factory): a node speaks RSGI (runtime/rsgi.py), the mesh
    proxy ASGI."""
    return [
        str(Path(sys.executable).with_name("granian")),
        "--interface",
        interface,
        *(["--no-ws"] if interface == "rsgi" else []),
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
        "--access-log" if access_log else "--no-access-log",
        "--log-level",
        "warning",
        target,
    ]


@dataclass
class GranianProcess:
    """One granian server in a session of its own, so a signal reaches its workers too."""

    name: str
    target: str
    env: Mapping[str, str]
    port: int = field(default_factory=free_port)
    ready_path: str | None = "/health"  # None: any HTTP answer means ready
    interface: str = "rsgi"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, base_env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            granian_command(self.target, LOOPBACK, self.port, interface=self.interface),
            env={**base_env, **self.env},
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        """Poll the readiness path until it answers 200; fail early if the process dies."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(self.url + (self.ready_path or "/"), timeout=1.0)
                if self.ready_path is None or response.status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} was not ready on {self.url} in {READY_TIMEOUT_SECONDS}s")

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as a crash would."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        self.signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.kill()
