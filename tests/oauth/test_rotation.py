"""Key rotation through the Core API: published first, signing later, retired after overlap."""

from __future__ import annotations

import base64
from datetime import timedelta

import orjson

from shards.keys import JWKS_MAX_AGE, PUBLISH_LEAD
from tests.conftest import FrozenClock
from tests.oauth.conftest import OAuthSetup


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return str(orjson.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


async def jwks_kids(oauth: OAuthSetup) -> set[str]:
    return {
        key["kid"] for key in (await oauth.http.get(f"/{oauth.issuer.id}/jwks.json")).json()["keys"]
    }


async def test_tokens_before_and_after_a_rotation_verify_through_the_overlap(
    oauth: OAuthSetup, clock: FrozenClock
) -> None:
    before = await oauth.access_token()
    old_kid = kid_of(before)
    response = await oauth.issuer.post(
        "/signing_keys/rotate", {"alg": "ES256"}, headers={"Idempotency-Key": "rotate-1"}
    )
    assert response.status_code == 201, response.text
    rotation = response.json()
    new_kid = rotation["key"]["kid"]
    assert rotation["key"]["state"] == "standby"
    assert [key["kid"] for key in rotation["retired"]] == [old_kid]
    replay = await oauth.issuer.post(
        "/signing_keys/rotate", {"alg": "ES256"}, headers={"Idempotency-Key": "rotate-1"}
    )
    assert replay.status_code == 201
    assert replay.json()["key"]["kid"] == new_kid
    again = await oauth.issuer.post("/signing_keys/rotate", {"alg": "ES256"})
    assert again.status_code == 409

    # published at once, but the old key keeps signing until every cache has the new one
    assert {old_kid, new_kid} <= await jwks_kids(oauth)
    assert kid_of(await oauth.access_token()) == old_kid

    clock.moment += PUBLISH_LEAD
    after = await oauth.access_token()
    assert kid_of(after) == new_kid
    assert (await oauth.verified(after))["sub"] == oauth.agent.id
    listed = (await oauth.issuer.get("/signing_keys")).json()["data"]
    states = {key["kid"]: key["state"] for key in listed}
    assert (states[old_kid], states[new_kid]) == ("retired", "active")

    # the old key stays published while a token it signed can still be alive: the issuer's
    # longest lifetime (an hour, for clients) plus the JWKS cache lifetime
    assert (await oauth.introspect(before))["active"] is False  # an agent's 5 minutes are over
    clock.moment += timedelta(seconds=3600 + JWKS_MAX_AGE - 1)
    assert old_kid in await jwks_kids(oauth)
    clock.moment += timedelta(seconds=1)
    assert old_kid not in await jwks_kids(oauth)
    events = await oauth.issuer.get("/events", params={"type": "signing_key.rotated"})
    assert [event["subject"] for event in events.json()["data"]] == [new_kid]


async def test_rotation_refuses_an_algorithm_it_does_not_sign_with(oauth: OAuthSetup) -> None:
    bad = await oauth.issuer.post("/signing_keys/rotate", {"alg": "HS256"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_an_eddsa_issuer_signs_with_a_new_ed25519_key(oauth: OAuthSetup) -> None:
    rotated = await oauth.issuer.post("/signing_keys/rotate", {"alg": "EdDSA", "immediate": True})
    assert rotated.status_code == 201
    assert rotated.json()["key"]["state"] == "active"
    assert rotated.json()["key"]["public_jwk"]["crv"] == "Ed25519"
