"""One real AuthPI node under granian on loopback, and an issuer made through the Core API over
HTTP, for clients written by other people to call exactly as they would call any issuer.

The node serves `http://127.0.0.1:{port}` and knows that URL as its public one, so the issuer
identifier, the metadata and the tokens all name the address the clients reach.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import pytest
from joserfc.jwk import ECKey

from runtime.dev import NODE_TARGET, Mesh
from runtime.processes import GranianProcess, free_port

REGION: Final = "fra"
CLIENT_SCOPES: Final = ["reports:read", "reports:write"]
AGENT_SCOPES: Final = ["tickets:read"]


@dataclass(frozen=True)
class Secret:
    """A client or agent with a secret verifier."""

    client_id: str
    secret: str


@dataclass(frozen=True)
class KeyPair:
    """An agent with a public_key verifier, and the private key that signs its assertions."""

    client_id: str
    key: ECKey

    @property
    def private_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=True))


@dataclass(frozen=True)
class Issuer:
    url: str  # the issuer identifier: `{base}/{issuer_id}`
    client: Secret  # an m2m client
    agent: Secret
    keyed_agent: KeyPair

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/token"

    @property
    def jwks_uri(self) -> str:
        return f"{self.url}/jwks.json"


@pytest.fixture(scope="package")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A one-region install: its node's URL, the account id and an account API key."""
    mesh = Mesh(regions=[REGION], data_root=tmp_path_factory.mktemp("interop"))
    bootstrap = mesh.bootstrap()
    port = free_port()
    node = GranianProcess(
        name=f"node {REGION}",
        target=NODE_TARGET,
        port=port,
        env={
            "FLY_REGION": REGION,
            "AUTHPI_DATA_DIR": str(mesh.data_dir(REGION)),
            "AUTHPI_PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
    )
    node.start(os.environ)
    try:
        node.wait_ready()
        yield node.url, bootstrap.account_id, bootstrap.key.token
    finally:
        node.stop()


@pytest.fixture(scope="package")
def issuer(node_url: tuple[str, str, str]) -> Issuer:
    """An issuer with an m2m client and an agent (secrets), and an agent with a public key."""
    url, account_id, token = node_url
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
        issuer_id = _create(
            api, f"/v1/accounts/{account_id}/issuers", {"name": "Interop", "jurisdiction": "eu"}
        )["id"]
        base = f"/v1/accounts/{account_id}/issuers/{issuer_id}"
        client = _create(
            api, f"{base}/clients", {"name": "reports", "type": "m2m", "scopes": CLIENT_SCOPES}
        )
        agent = _create(api, f"{base}/agents", {"name": "triage", "scopes": AGENT_SCOPES})
        keyed = _create(api, f"{base}/agents", {"name": "signer", "scopes": AGENT_SCOPES})
        key = ECKey.generate_key("P-256")
        _create(
            api,
            f"{base}/agents/{keyed['id']}/verifiers",
            {"type": "public_key", "jwk": key.as_dict(private=False)},
        )
        return Issuer(
            url=f"{url}/{issuer_id}",
            client=Secret(client["id"], _secret(api, f"{base}/clients/{client['id']}")),
            agent=Secret(agent["id"], _secret(api, f"{base}/agents/{agent['id']}")),
            keyed_agent=KeyPair(keyed["id"], key),
        )


def _create(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _secret(api: httpx.Client, parent: str) -> str:
    secret: str = _create(api, f"{parent}/verifiers", {"type": "secret"})["secret"]
    return secret
