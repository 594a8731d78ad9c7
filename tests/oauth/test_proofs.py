"""private_key_jwt client assertions (RFC 7523) and DPoP proofs (RFC 9449) at /token."""

from __future__ import annotations

import time
import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.conftest import FrozenClock
from tests.oauth.conftest import OAuthSetup, basic
from tests.oauth.test_introspection import real_clock  # noqa: F401  (the fixture)

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def _key_verifier(oauth: OAuthSetup) -> ECKey:
    key = ECKey.generate_key("P-256")
    public = {**key.as_dict(private=False), "kid": "k1"}
    response = await oauth.issuer.post(
        f"/agents/{oauth.agent.id}/verifiers", {"type": "public_key", "jwk": public}
    )
    assert response.status_code == 201, response.text
    return key


def _assertion(oauth: OAuthSetup, key: ECKey | RSAKey, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": oauth.agent.id,
        "sub": oauth.agent.id,
        "aud": oauth.url,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **changes,
    }
    return jwt.encode({"alg": "ES256", "kid": "k1"}, claims, key)


async def _with_assertion(oauth: OAuthSetup, assertion: str) -> Any:
    return await oauth.post(
        "token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION,
            "client_assertion": assertion,
        },
    )


async def test_private_key_jwt_gets_a_token_once_per_assertion(
    oauth: OAuthSetup,
    real_clock: FrozenClock,  # noqa: F811
) -> None:
    key = await _key_verifier(oauth)
    assertion = _assertion(oauth, key)
    first = await _with_assertion(oauth, assertion)
    assert first.status_code == 200, first.text
    assert (await oauth.verified(first.json()["access_token"]))["sub"] == oauth.agent.id
    replayed = await _with_assertion(oauth, assertion)
    assert replayed.status_code == 401
    assert "already used" in replayed.json()["error_description"]
    endpoint_aud = _assertion(oauth, key, aud=f"{oauth.url}/token")
    assert (await _with_assertion(oauth, endpoint_aud)).status_code == 200


async def test_bad_assertions_are_invalid_client(
    oauth: OAuthSetup,
    real_clock: FrozenClock,  # noqa: F811
) -> None:
    key = await _key_verifier(oauth)
    stranger = ECKey.generate_key("P-256")
    now = int(time.time())
    for assertion in (
        _assertion(oauth, stranger),
        _assertion(oauth, key, aud="https://elsewhere.example"),
        _assertion(oauth, key, exp=now - 120),
        _assertion(oauth, key, exp=now + 7200),
        _assertion(oauth, key, iss="c_someone_else"),
        _assertion(oauth, key, jti=None),
        "not.a.jwt",
    ):
        response = await _with_assertion(oauth, assertion)
        assert response.status_code == 401, assertion
        assert response.json()["error"] == "invalid_client"
    wrong_type = await oauth.post(
        "token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:example:other",
            "client_assertion": _assertion(oauth, key),
        },
    )
    assert wrong_type.status_code == 401


def _proof(key: ECKey, url: str, **changes: Any) -> str:
    claims = {
        "htm": "POST",
        "htu": url,
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        **changes,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key)


async def test_dpop_binds_the_token_after_a_nonce_round_trip(
    oauth: OAuthSetup,
    real_clock: FrozenClock,  # noqa: F811
) -> None:
    key = ECKey.generate_key("P-256")
    endpoint = f"{oauth.url}/token"
    auth = {"Authorization": basic(oauth.agent.id, oauth.agent.secret)}
    form = {"grant_type": "client_credentials"}
    first = await oauth.post("token", form, headers={**auth, "DPoP": _proof(key, endpoint)})
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    proof = _proof(key, endpoint, nonce=nonce)
    bound = await oauth.post("token", form, headers={**auth, "DPoP": proof})
    assert bound.status_code == 200, bound.text
    assert bound.json()["token_type"] == "DPoP"
    claims = await oauth.verified(bound.json()["access_token"])
    assert claims["cnf"] == {"jkt": key.thumbprint()}
    introspected = await oauth.introspect(bound.json()["access_token"])
    assert introspected["token_type"] == "DPoP"
    replay = await oauth.post("token", form, headers={**auth, "DPoP": proof})
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_dpop_proof"


async def test_bad_dpop_proofs_are_refused(
    oauth: OAuthSetup,
    real_clock: FrozenClock,  # noqa: F811
) -> None:
    key = ECKey.generate_key("P-256")
    endpoint = f"{oauth.url}/token"
    auth = {"Authorization": basic(oauth.agent.id, oauth.agent.secret)}
    form = {"grant_type": "client_credentials"}
    nonce = (
        await oauth.post("token", form, headers={**auth, "DPoP": _proof(key, endpoint)})
    ).headers["dpop-nonce"]
    private_header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=True)}
    cases = [
        _proof(key, endpoint, nonce=nonce, htm="GET"),
        _proof(key, "https://elsewhere.example/token", nonce=nonce),
        _proof(key, endpoint, nonce=nonce, iat=int(time.time()) - 600),
        _proof(key, endpoint, nonce=nonce, jti=None),
        jwt.encode(
            private_header,
            {"htm": "POST", "htu": endpoint, "iat": int(time.time()), "jti": "x", "nonce": nonce},
            key,
        ),
        jwt.encode(
            {"typ": "JWT", "alg": "ES256", "jwk": key.as_dict(private=False)},
            {"htm": "POST", "htu": endpoint, "iat": int(time.time()), "jti": "y", "nonce": nonce},
            key,
        ),
        "garbage",
    ]
    for proof in cases:
        response = await oauth.post("token", form, headers={**auth, "DPoP": proof})
        assert response.status_code == 400, proof
        assert response.json()["error"] == "invalid_dpop_proof", response.text
