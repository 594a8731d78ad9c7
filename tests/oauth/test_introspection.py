"""Introspection (RFC 7662) and revocation (RFC 7009) from the edge, and the JWT attacks that
must never make a token active."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from joserfc.jwk import ECKey
from jsonschema import Draft202012Validator

from tests.conftest import FrozenClock
from tests.oauth.conftest import OAuthSetup, basic, forge, issuer_key

# The design folder beside the repository, as the conformance checks are laid out for AuthPI.
CONFORMANCE_SCHEMA = (
    Path(__file__).resolve().parents[3] / "shared" / "conformance" / "rfc8414_metadata.schema.json"
)


async def test_a_fresh_token_is_active_with_its_claims(oauth: OAuthSetup) -> None:
    token = await oauth.access_token(scope="tickets:read")
    body = await oauth.introspect(token)
    assert body["active"] is True
    assert body["client_id"] == body["sub"] == oauth.agent.id
    assert body["scope"] == "tickets:read"
    assert body["token_type"] == "Bearer"
    assert body["iss"] == oauth.url


async def test_introspection_needs_an_authenticated_caller(oauth: OAuthSetup) -> None:
    token = await oauth.access_token()
    response = await oauth.post("introspect", {"token": token})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    missing = await oauth.post(
        "introspect", {}, headers={"Authorization": basic(oauth.client.id, oauth.client.secret)}
    )
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


async def test_an_expired_token_is_inactive(oauth: OAuthSetup, clock: FrozenClock) -> None:
    token = await oauth.access_token()
    clock.moment += timedelta(seconds=301)
    assert await oauth.introspect(token) == {"active": False}


async def test_a_revoked_token_is_inactive_and_the_revocation_is_an_event(
    oauth: OAuthSetup,
) -> None:
    token = await oauth.access_token()
    response = await oauth.post(
        "revoke",
        {"token": token},
        headers={"Authorization": basic(oauth.agent.id, oauth.agent.secret)},
    )
    assert response.status_code == 200
    assert response.content == b""
    assert await oauth.introspect(token) == {"active": False}
    events = await oauth.issuer.get("/events", params={"type": "access_token.revoked"})
    (event,) = events.json()["data"]
    assert event["subject"] == oauth.agent.id
    assert "token" not in orjson.dumps(event).decode().replace("access_token", "")


async def test_revoking_someone_elses_or_a_garbage_token_changes_nothing(
    oauth: OAuthSetup,
) -> None:
    token = await oauth.access_token()
    client_auth = {"Authorization": basic(oauth.client.id, oauth.client.secret)}
    for presented in (token, "garbage", "a.b.c"):
        response = await oauth.post("revoke", {"token": presented}, headers=client_auth)
        assert response.status_code == 200
    assert (await oauth.introspect(token))["active"] is True


async def test_a_token_of_a_disabled_agent_is_inactive(oauth: OAuthSetup) -> None:
    token = await oauth.access_token()
    await oauth.issuer.patch(f"/agents/{oauth.agent.id}", {"status": "disabled"})
    assert await oauth.introspect(token) == {"active": False}


async def test_a_token_of_another_issuer_is_inactive(oauth: OAuthSetup) -> None:
    from tests.api.test_graph_support import new_issuer
    from tests.oauth.conftest import secret_verifier

    other = await new_issuer(oauth.issuer.install, name="Other")
    agent = await other.agent("elsewhere")
    secret = await secret_verifier(other, f"/agents/{agent['id']}")
    response = await oauth.http.post(
        f"/{other.id}/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(agent["id"], secret)},
    )
    assert response.status_code == 200
    assert await oauth.introspect(response.json()["access_token"]) == {"active": False}


def _claims(oauth: OAuthSetup, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": oauth.url,
        "sub": oauth.agent.id,
        "aud": oauth.url,
        "client_id": oauth.agent.id,
        "iat": now,
        "exp": now + 300,
        "jti": "forged",
        **changes,
    }


@pytest.fixture
def real_clock(clock: FrozenClock) -> FrozenClock:
    """Forged tokens carry the wall clock's times; keep the issuer's clock with them."""
    from datetime import UTC, datetime

    clock.moment = datetime.now(UTC)
    return clock


async def test_a_token_signed_by_the_issuer_key_is_active_so_the_forgeries_below_are_fair(
    oauth: OAuthSetup, real_clock: FrozenClock
) -> None:
    key = issuer_key(oauth)
    await oauth.access_token()  # the edge holds the issuer
    token = forge({"typ": "at+jwt", "alg": "ES256", "kid": key.kid}, _claims(oauth), key.sign)
    assert (await oauth.introspect(token))["active"] is True


@pytest.mark.parametrize(
    "attack",
    [
        "alg_none",
        "hs256_with_public_key",
        "unknown_kid",
        "jku_injection",
        "x5u_injection",
        "wrong_typ",
        "wrong_iss",
        "expired",
        "not_yet_valid",
        "issued_in_the_future",
        "tampered_payload",
        "rs256_header_on_es256_key",
    ],
)
async def test_jwt_attacks_are_inactive(
    oauth: OAuthSetup, real_clock: FrozenClock, attack: str
) -> None:
    key = issuer_key(oauth)
    await oauth.access_token()
    header = {"typ": "at+jwt", "alg": "ES256", "kid": key.kid}
    claims = _claims(oauth)
    attacker = ECKey.generate_key("P-256")

    def attacker_sign(data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(attacker.private_key.sign(data, ec.ECDSA(hashes.SHA256())))  # type: ignore[union-attr]
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    if attack == "alg_none":
        token = forge({**header, "alg": "none"}, claims, lambda _: b"")
    elif attack == "hs256_with_public_key":
        secret = orjson.dumps(key.public_jwk) if hasattr(key, "public_jwk") else b""
        jwks = (await oauth.http.get(f"/{oauth.issuer.id}/jwks.json")).content
        for candidate in (secret, jwks):

            def mac(data: bytes, secret: bytes = candidate) -> bytes:
                return hmac.new(secret, data, hashlib.sha256).digest()

            token = forge({**header, "alg": "HS256"}, claims, mac)
            assert await oauth.introspect(token) == {"active": False}
        return
    elif attack == "unknown_kid":
        token = forge({**header, "kid": attacker.thumbprint()}, claims, attacker_sign)
    elif attack == "jku_injection":
        token = forge(
            {**header, "jku": "https://attacker.example/jwks.json"}, claims, attacker_sign
        )
    elif attack == "x5u_injection":
        token = forge({**header, "x5u": "https://attacker.example/cert.pem"}, claims, attacker_sign)
    elif attack == "wrong_typ":
        token = forge({**header, "typ": "JWT"}, claims, key.sign)
    elif attack == "wrong_iss":
        token = forge(header, {**claims, "iss": "https://attacker.example"}, key.sign)
    elif attack == "expired":
        token = forge(header, {**claims, "exp": claims["iat"] - 1}, key.sign)
    elif attack == "not_yet_valid":
        token = forge(header, {**claims, "nbf": claims["iat"] + 600}, key.sign)
    elif attack == "issued_in_the_future":
        token = forge(header, {**claims, "iat": claims["iat"] + 600}, key.sign)
    elif attack == "tampered_payload":
        good = forge(header, claims, key.sign)
        head, _, rest = good.partition(".")
        _, _, signature = rest.partition(".")
        import base64

        tampered = (
            base64.urlsafe_b64encode(orjson.dumps({**claims, "scope": "admin"}))
            .rstrip(b"=")
            .decode()
        )
        token = f"{head}.{tampered}.{signature}"
    else:
        token = forge({**header, "alg": "RS256"}, claims, key.sign)
    assert await oauth.introspect(token) == {"active": False}


async def test_jwks_is_cacheable_and_has_only_public_keys(oauth: OAuthSetup) -> None:
    response = await oauth.http.get(f"/{oauth.issuer.id}/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"] == "application/jwk-set+json"
    keys = response.json()["keys"]
    assert sorted(key["alg"] for key in keys) == ["ES256", "RS256"]
    assert all(not ({"d", "p", "q"} & set(key)) for key in keys)


async def test_metadata_lists_what_is_served(oauth: OAuthSetup) -> None:
    oidc = (await oauth.http.get(f"/{oauth.issuer.id}/.well-known/openid-configuration")).json()
    rfc8414 = await oauth.http.get(f"/.well-known/oauth-authorization-server/{oauth.issuer.id}")
    assert rfc8414.status_code == 200
    assert rfc8414.json() == oidc
    assert oidc["issuer"] == oauth.url
    assert oidc["token_endpoint"] == f"{oauth.url}/token"
    assert oidc["grant_types_supported"] == ["client_credentials"]
    assert "authorization_endpoint" not in oidc
    missing = await oauth.http.get(
        "/.well-known/oauth-authorization-server/i_01jd8k2v6m4q9x7c3n5b8r2t0w"
    )
    assert missing.status_code == 404


async def test_metadata_passes_the_conformance_suites_rfc8414_schema(oauth: OAuthSetup) -> None:
    """The structural schema of the OpenID conformance suite (shared/conformance): every
    member is one it knows, with the right type and URI format."""
    if not CONFORMANCE_SCHEMA.exists():
        pytest.skip(f"{CONFORMANCE_SCHEMA.name} is not beside this repository")
    schema = json.loads(CONFORMANCE_SCHEMA.read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    oidc = (await oauth.http.get(f"/{oauth.issuer.id}/.well-known/openid-configuration")).json()
    assert [error.message for error in validator.iter_errors(oidc)] == []


async def test_the_snapshot_an_edge_receives_holds_no_personal_data(oauth: OAuthSetup) -> None:
    await oauth.issuer.user("ada.lovelace@example.com", name="Ada Lovelace", phone="+4930123456")
    org = await oauth.issuer.organization("Analytical Engines")
    user = (await oauth.issuer.get("/users")).json()["data"][0]
    await oauth.issuer.member(org["id"], user["id"])
    await oauth.issuer.member(org["id"], oauth.agent.id)
    node = oauth.issuer.install  # the app's node, through the transport
    transport = node.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    edge_node = app.state.node  # type: ignore[attr-defined]
    shard = edge_node.shards.get(oauth.issuer.install.shard.id)
    snapshot = orjson.dumps(await shard.edge.snapshot(oauth.issuer.id))
    for personal in (b"ada.lovelace", b"Ada Lovelace", b"+4930123456", user["id"].encode()):
        assert personal not in snapshot
    assert org["id"].encode() in snapshot  # the agent's organization context is there
    assert b"Analytical Engines" not in snapshot  # but not even its name
