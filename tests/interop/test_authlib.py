"""Authlib obtains client_credentials tokens; PyJWT verifies them against the JWKS over HTTP.

Neither library is told anything about AuthPI beyond the issuer's URLs and the credentials:
Authlib authenticates the way RFC 6749 §2.3.1 and RFC 7523 §2.2 say, PyJWT fetches the JWKS
and checks the signature, the issuer, the audience and the expiry.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from tests.interop.conftest import AGENT_SCOPES, CLIENT_SCOPES, Issuer


def verified(issuer: Issuer, token: str) -> dict[str, Any]:
    """The claims of `token` once PyJWT has checked it against the issuer's published keys."""
    keys = jwt.PyJWKClient(issuer.jwks_uri, cache_keys=False)
    claims: dict[str, Any] = jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token).key,
        algorithms=["ES256"],
        issuer=issuer.url,
        audience=issuer.url,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"  # RFC 9068 §2.1
    return claims


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_client_gets_a_token_with_its_secret(issuer: Issuer, method: str) -> None:
    with OAuth2Session(
        issuer.client.client_id, issuer.client.secret, token_endpoint_auth_method=method
    ) as client:
        token = client.fetch_token(
            issuer.token_endpoint, grant_type="client_credentials", scope="reports:read"
        )
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "reports:read"
    claims = verified(issuer, token["access_token"])
    assert claims["sub"] == claims["client_id"] == issuer.client.client_id
    assert claims["scope"] == "reports:read"
    assert claims["exp"] - claims["iat"] == token["expires_in"]


def test_an_agent_gets_a_token_with_private_key_jwt(issuer: Issuer) -> None:
    agent = issuer.keyed_agent
    with OAuth2Session(
        agent.client_id,
        agent.key,
        token_endpoint_auth_method=PrivateKeyJWT(issuer.token_endpoint, alg="ES256"),
    ) as client:
        token = client.fetch_token(issuer.token_endpoint, grant_type="client_credentials")
    claims = verified(issuer, token["access_token"])
    assert claims["sub"] == agent.client_id
    assert claims["scope"] == " ".join(AGENT_SCOPES)
    assert token["expires_in"] == 300  # an agent's tokens live minutes


def test_the_token_is_introspected_then_revoked(issuer: Issuer) -> None:
    with OAuth2Session(issuer.client.client_id, issuer.client.secret) as client:
        token = client.fetch_token(issuer.token_endpoint, grant_type="client_credentials")
        access_token = token["access_token"]
        active = client.introspect_token(f"{issuer.url}/introspect", token=access_token)
        assert active.status_code == 200
        assert active.json()["active"] is True
        assert active.json()["scope"] == " ".join(CLIENT_SCOPES)
        revoked = client.revoke_token(f"{issuer.url}/revoke", token=access_token)
        assert revoked.status_code == 200
        inactive = client.introspect_token(f"{issuer.url}/introspect", token=access_token)
        assert inactive.json() == {"active": False}


def test_a_wrong_secret_is_an_oauth_error_authlib_understands(issuer: Issuer) -> None:
    with (
        OAuth2Session(issuer.client.client_id, "not-the-secret") as client,
        pytest.raises(OAuthError) as raised,
    ):
        client.fetch_token(issuer.token_endpoint, grant_type="client_credentials")
    assert raised.value.error == "invalid_client"
