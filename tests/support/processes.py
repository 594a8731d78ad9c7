"""Granian servers for tests that run their own ASGI factories (not AuthPI nodes)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from runtime.processes import GranianProcess, free_port

__all__ = ["Server", "free_port"]


class Server(GranianProcess):
    """A granian process serving `target`, ready as soon as it answers HTTP at all."""

    def __init__(self, target: str, env: Mapping[str, str] | None = None) -> None:
        super().__init__(
            name=target, target=target, env=dict(env or {}), ready_path=None, interface="asgi"
        )

    def start(self, base_env: Mapping[str, str] | None = None) -> Server:  # type: ignore[override]
        super().start(os.environ if base_env is None else base_env)
        self.wait_ready()
        return self
