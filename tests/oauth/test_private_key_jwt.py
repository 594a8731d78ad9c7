"""private_key_jwt (RFC 7523 §2.2): assertions signed by a key of a public_key verifier."""

from __future__ import annotations

import secrets
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from tests.conftest import FrozenClock
from tests.oauth.conftest import OAuthSetup


async def keyed_agent(oauth: OAuthSetup) -> tuple[str, ECKey]:
    key = ECKey.generate_key("P-256")
    agent = await oauth.issuer.agent("signer", scopes=["tickets:read"])
    await oauth.issuer.create(
        f"/agents/{agent['id']}/verifiers",
        {"type": "public_key", "jwk": key.as_dict(private=False)},
    )
    return agent["id"], key


def assertion(agent_id: str, key: ECKey, audience: str, now: int, lifetime: int) -> str:
    claims: dict[str, Any] = {
        "iss": agent_id,
        "sub": agent_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode({"alg": "ES256"}, claims, key)


async def present(oauth: OAuthSetup, signed: str) -> dict[str, Any]:
    response = await oauth.post(
        "token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signed,
        },
    )
    body: dict[str, Any] = response.json()
    return body


async def test_an_assertion_valid_for_an_hour_is_accepted(
    oauth: OAuthSetup, clock: FrozenClock
) -> None:
    """Authlib's PrivateKeyJWT signs assertions that expire an hour after they are made."""
    agent_id, key = await keyed_agent(oauth)
    now = int(clock.now().timestamp())
    body = await present(oauth, assertion(agent_id, key, f"{oauth.url}/token", now, 3600))
    assert body["token_type"] == "Bearer", body
    claims = await oauth.verified(body["access_token"])
    assert claims["sub"] == agent_id


async def test_an_assertion_valid_for_longer_is_refused(
    oauth: OAuthSetup, clock: FrozenClock
) -> None:
    agent_id, key = await keyed_agent(oauth)
    now = int(clock.now().timestamp())
    body = await present(oauth, assertion(agent_id, key, oauth.url, now, 3601))
    assert body == {
        "error": "invalid_client",
        "error_description": "client assertion: exp must be within 3600 seconds",
    }


async def test_an_assertion_is_used_once(oauth: OAuthSetup, clock: FrozenClock) -> None:
    agent_id, key = await keyed_agent(oauth)
    signed = assertion(agent_id, key, oauth.url, int(clock.now().timestamp()), 60)
    assert "access_token" in await present(oauth, signed)
    assert await present(oauth, signed) == {
        "error": "invalid_client",
        "error_description": "this client assertion was already used",
    }
