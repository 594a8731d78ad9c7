"""A webhook receiver on loopback, as a customer would run one: every delivery is verified
with the Standard Webhooks library and parsed with the CloudEvents SDK."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    event: BaseCloudEvent
    verified_by: list[str]  # the secrets whose signature verified


@dataclass
class Receiver:
    """Answers `status` after `delay` seconds with `body`; refuses connections while down."""

    secrets: list[str] = field(default_factory=list)
    status: int = 204
    delay: float = 0.0
    body: bytes = b""
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why requests failed verification
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    @property
    def ids(self) -> list[str]:
        return [item.event.get_id() for item in self.received]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {key: value for key, value in self.headers.items()}
                if receiver.status < 300:
                    receiver.accept(headers, body)
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: connections to the port are refused until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accept(self, headers: dict[str, str], body: bytes) -> None:
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                verified.append(secret)
            except WebhookVerificationError as exc:
                self.refused.append(str(exc))
        event = from_http_event(HTTPMessage(headers=headers, body=body))
        self.received.append(Received(headers, body, event, verified))
