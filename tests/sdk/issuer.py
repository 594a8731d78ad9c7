"""An issuer's public face on loopback: JWKS and discovery over real HTTP, and token minting.

The server runs in a thread and serves whatever `LoopbackIssuer` currently publishes, so a
test can rotate keys, change `Cache-Control` or break the endpoint between two requests, and
count what the verifier fetched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from joserfc import jws
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

LOOPBACK: Final = "127.0.0.1"
ISSUER_ID: Final = "i_01jdtest"
AUDIENCE: Final = "https://api.example.com"


class Clock:
    """Seconds since the epoch, moved only by the test."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(header: Mapping[str, Any], claims: Mapping[str, Any] | bytes, key: Key | None) -> str:
    """A compact JWS with exactly this header: no checks, so tests can build forgeries."""
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
    if key is None:
        return signing_input + "."
    algorithm = jws.JWSRegistry.algorithms[header["alg"]]
    return f"{signing_input}.{b64url(algorithm.sign(signing_input.encode(), key))}"


def sign_hs256(header: Mapping[str, Any], claims: Mapping[str, Any], secret: bytes) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


@dataclass
class Published:
    """What the server answers; tests change it as they go."""

    keys: list[Key]
    cache_control: str | None = "public, max-age=300"
    status: int = 200
    extra_jwks: list[dict[str, Any]] = field(default_factory=list)


class LoopbackIssuer:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.es256 = ECKey.generate_key("P-256", parameters={"kid": "es-1"})
        self.rs256 = RSAKey.generate_key(2048, parameters={"kid": "rs-1"})
        self.eddsa = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})
        # The attacker's own key, published only at /attacker/jwks.json.
        self.attacker = ECKey.generate_key("P-256", parameters={"kid": "evil-1"})
        self.published = Published(keys=[])
        self.requests: list[str] = []
        self.reset(clock)
        self._server = ThreadingHTTPServer((LOOPBACK, 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/{ISSUER_ID}"

    @property
    def attacker_jwks_uri(self) -> str:
        return f"{self.base_url}/attacker/jwks.json"

    def reset(self, clock: Clock) -> None:
        """Publish the issuer's three keys again and forget what was asked, for the next test."""
        self.clock = clock
        self.published = Published(keys=[self.es256, self.rs256, self.eddsa])
        self.requests.clear()

    def jwks_fetches(self) -> int:
        return self.requests.count(f"/{ISSUER_ID}/jwks.json")

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """An access token's claims as AuthPI issues them; `None` drops a claim."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "usr_01jdalice",
            "aud": AUDIENCE,
            "client_id": "app_01jdhelpdesk",
            "iat": now,
            "exp": now + 300,
            "jti": "at_01jdtoken",
            "scope": "tickets:read tickets:write",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def mint(
        self, key: Key | None = None, header: Mapping[str, Any] | None = None, **claims: Any
    ) -> str:
        key = key or self.es256
        algorithm = {"EC": "ES256", "RSA": "RS256", "OKP": "EdDSA"}[key.key_type]
        full_header: dict[str, Any] = {"typ": "at+jwt", "alg": algorithm, "kid": key.kid}
        full_header.update(header or {})
        full_header = {name: value for name, value in full_header.items() if value is not None}
        return sign(full_header, self.claims(**claims), key)

    def start(self) -> LoopbackIssuer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(path)
        headers = {"Content-Type": "application/json"}
        if path == f"/{ISSUER_ID}/jwks.json":
            if self.published.status != 200:
                return self.published.status, headers, b'{"error": "down"}'
            if self.published.cache_control is not None:
                headers["Cache-Control"] = self.published.cache_control
            keys = [key.as_dict(private=False) for key in self.published.keys]
            return 200, headers, json.dumps({"keys": keys + self.published.extra_jwks}).encode()
        if path == f"/{ISSUER_ID}/.well-known/openid-configuration":
            document = {"issuer": self.issuer, "jwks_uri": f"{self.base_url}/keys/current.json"}
            return 200, headers, json.dumps(document).encode()
        if path == "/i_01jdimpostor/.well-known/openid-configuration":
            # Another tenant's document served under this one's URL.
            document = {"issuer": self.issuer, "jwks_uri": self.attacker_jwks_uri}
            return 200, headers, json.dumps(document).encode()
        if path == "/keys/current.json":
            keys = [key.as_dict(private=False) for key in self.published.keys]
            return 200, headers, json.dumps({"keys": keys}).encode()
        if path == "/attacker/jwks.json":
            return 200, headers, json.dumps({"keys": [self.attacker.as_dict()]}).encode()
        return 404, headers, b'{"error": "not found"}'


def _handler(issuer: LoopbackIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = issuer.answer(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


@contextmanager
def running_issuer(clock: Clock) -> Iterator[LoopbackIssuer]:
    issuer = LoopbackIssuer(clock).start()
    try:
        yield issuer
    finally:
        issuer.stop()
