"""panva's openid-client discovers the issuer and runs client_credentials; jose verifies.

The libraries run unmodified under node (`node/client.mjs`, installed from `node/package-lock.json`
by `make test`); each test runs one scenario in a node process and checks what it printed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

import orjson
import pytest

from tests.interop.conftest import AGENT_SCOPES, CLIENT_SCOPES, Issuer

NODE_DIR: Final = Path(__file__).parent / "node"
SCENARIO_TIMEOUT: Final = 30.0


def run(scenario: str, **inputs: Any) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        pytest.fail("node and the interop packages are needed: `make test` installs them")
    completed = subprocess.run(
        [node, str(NODE_DIR / "client.mjs"), scenario, orjson.dumps(inputs).decode()],
        capture_output=True,
        timeout=SCENARIO_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    result: dict[str, Any] = orjson.loads(completed.stdout)
    return result


def secret_of(issuer: Issuer, method: str = "client_secret_basic") -> dict[str, str]:
    client = issuer.client
    return {
        "issuer": issuer.url,
        "client_id": client.client_id,
        "secret": client.secret,
        "method": method,
    }


def test_discovery_finds_the_same_metadata_both_ways(issuer: Issuer) -> None:
    found = run("discovery", **secret_of(issuer))
    assert found["oidc"] == found["oauth2"]
    metadata = found["oidc"]
    assert metadata["issuer"] == issuer.url
    assert metadata["token_endpoint"] == issuer.token_endpoint
    assert metadata["jwks_uri"] == issuer.jwks_uri
    assert "client_credentials" in metadata["grant_types_supported"]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_client_token_is_granted_verified_introspected_and_revoked(
    issuer: Issuer, method: str
) -> None:
    seen = run("lifecycle", **secret_of(issuer, method), scope="reports:write")
    assert seen["token"] == {"token_type": "bearer", "expires_in": 3600, "scope": "reports:write"}
    assert seen["header"]["typ"] == "at+jwt"
    assert seen["claims"]["client_id"] == issuer.client.client_id
    assert seen["claims"]["scope"] == "reports:write"
    assert seen["introspected"]["active"] is True
    assert seen["introspected"]["jti"] == seen["claims"]["jti"]
    assert seen["after"] == {"active": False}


def test_an_agent_token_with_private_key_jwt(issuer: Issuer) -> None:
    agent = issuer.keyed_agent
    seen = run(
        "grant",
        issuer=issuer.url,
        client_id=agent.client_id,
        method="private_key_jwt",
        private_jwk=agent.private_jwk,
    )
    assert seen["token"]["expires_in"] == 300
    assert seen["claims"]["sub"] == agent.client_id
    assert seen["claims"]["scope"] == " ".join(AGENT_SCOPES)


def test_a_dpop_bound_token(issuer: Issuer) -> None:
    seen = run("dpop", **secret_of(issuer))
    assert seen["token"]["token_type"] == "dpop"
    assert seen["claims"]["cnf"] == {"jkt": seen["thumbprint"]}
    assert seen["claims"]["scope"] == " ".join(CLIENT_SCOPES)


def test_a_wrong_secret_is_read_from_the_basic_challenge(issuer: Issuer) -> None:
    """RFC 6749 §5.2: a 401 with a challenge in the scheme the client used; openid-client
    reports the challenge (its parameters carry the error code) rather than the body."""
    agent = issuer.agent
    seen = run(
        "refused",
        issuer=issuer.url,
        client_id=agent.client_id,
        secret=agent.secret + "x",
        method="client_secret_basic",
    )
    assert seen == {
        "name": "WWWAuthenticateChallengeError",
        "code": "OAUTH_WWW_AUTHENTICATE_CHALLENGE",
        "status": 401,
        "challenges": [
            {"scheme": "basic", "parameters": {"realm": issuer.url, "error": "invalid_client"}}
        ],
    }


def test_a_scope_not_held_is_read_from_the_error_body(issuer: Issuer) -> None:
    seen = run("refused", **secret_of(issuer, "client_secret_post"), scope="admin")
    assert seen == {
        "name": "ResponseBodyError",
        "code": "OAUTH_RESPONSE_BODY_ERROR",
        "status": 400,
        "error": "invalid_scope",
        "error_description": "not held by the client: admin",
    }
