"""The JWKS cache against a real issuer on loopback: lifetimes, rotation, floods, outages."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from joserfc.jwk import ECKey, OctKey

from authpi_idp import KeySetUnavailable, TokenVerifier, UnknownKey
from authpi_idp.jwks import cache_lifetime
from tests.sdk.issuer import AUDIENCE, Clock, LoopbackIssuer


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("public, max-age=600", 600),
        ("max-age=600, public", 600),
        ('MAX-AGE="90"', 90),
        ("public, max-age=0", 30),  # the floor
        ("no-store", 30),
        ("public, max-age=999999999", 86_400),  # the ceiling
        ("public", 300),  # no max-age: the default
        (None, 300),
        ("s-maxage=5", 300),
    ],
)
def test_cache_lifetime(header: str | None, seconds: float) -> None:
    assert cache_lifetime(header) == seconds


async def test_concurrent_requests_share_one_fetch(
    verifier: TokenVerifier, issuer: LoopbackIssuer
) -> None:
    token = issuer.mint()
    await asyncio.gather(*(verifier.verify(token) for _ in range(20)))
    assert issuer.jwks_fetches() == 1


async def test_the_set_is_kept_for_its_max_age(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    issuer.published.cache_control = "public, max-age=120"
    await verifier.verify(issuer.mint())
    clock.advance(119)
    await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches() == 1
    clock.advance(1)
    await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches() == 2


async def test_max_age_zero_is_held_to_the_floor(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    issuer.published.cache_control = "max-age=0"
    for _ in range(5):
        await verifier.verify(issuer.mint())
        clock.advance(5)
    assert issuer.jwks_fetches() == 1


async def test_a_rotated_key_is_found_by_one_refetch(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    await verifier.verify(issuer.mint())
    clock.advance(30)  # no refetch sooner than this after the last fetch
    new_key = ECKey.generate_key("P-256", parameters={"kid": "es-2"})
    issuer.published.keys.append(new_key)
    token = await verifier.verify(issuer.mint(new_key))
    assert token.key_id == "es-2"
    assert issuer.jwks_fetches() == 2


async def test_a_flood_of_unknown_kids_refetches_once_per_interval(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    await verifier.verify(issuer.mint())
    clock.advance(30)  # the refetch interval since that first fetch
    for _ in range(50):
        random_kid = issuer.mint(header={"kid": uuid.uuid4().hex})
        with pytest.raises(UnknownKey):
            await verifier.verify(random_kid)
    assert issuer.jwks_fetches() == 2
    clock.advance(29)
    with pytest.raises(UnknownKey):
        await verifier.verify(issuer.mint(header={"kid": "still-unknown"}))
    assert issuer.jwks_fetches() == 2
    clock.advance(1)
    with pytest.raises(UnknownKey):
        await verifier.verify(issuer.mint(header={"kid": "still-unknown"}))
    assert issuer.jwks_fetches() == 3


async def test_a_concurrent_flood_of_unknown_kids_refetches_once(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    await verifier.verify(issuer.mint())
    clock.advance(60)
    forged = [issuer.mint(header={"kid": uuid.uuid4().hex}) for _ in range(30)]
    results = await asyncio.gather(*(verifier.verify(t) for t in forged), return_exceptions=True)
    assert all(isinstance(result, UnknownKey) for result in results)
    assert issuer.jwks_fetches() == 2


async def test_a_key_removed_by_the_issuer_stops_verifying_after_max_age(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    await verifier.verify(issuer.mint())
    issuer.published.keys.remove(issuer.es256)
    clock.advance(300)
    with pytest.raises(UnknownKey):
        await verifier.verify(issuer.mint())


async def test_an_unreachable_issuer(verifier: TokenVerifier, issuer: LoopbackIssuer) -> None:
    issuer.published.status = 503
    with pytest.raises(KeySetUnavailable, match=r"jwks\.json answered 503$"):
        await verifier.verify(issuer.mint())


async def test_a_failed_fetch_is_not_retried_at_once(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    issuer.published.status = 500
    for _ in range(10):
        with pytest.raises(KeySetUnavailable):
            await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches() == 1
    issuer.published.status = 200
    clock.advance(5)
    await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches() == 2


async def test_the_last_good_set_outlives_an_outage(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    await verifier.verify(issuer.mint())
    issuer.published.status = 500
    clock.advance(301)
    await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches() == 2


async def test_symmetric_and_encryption_keys_in_the_set_are_never_used(
    issuer: LoopbackIssuer, clock: Clock
) -> None:
    secret = OctKey.generate_key(256, parameters={"kid": "oct-1"})
    encryption = ECKey.generate_key("P-256", parameters={"kid": "enc-1", "use": "enc"})
    issuer.published.extra_jwks = [secret.as_dict(private=True), encryption.as_dict()]
    async with TokenVerifier(issuer.issuer, AUDIENCE, clock=clock) as verifier:
        with pytest.raises(UnknownKey):
            await verifier.verify(issuer.mint(encryption))
        await verifier.verify(issuer.mint())  # the usable keys of the same set still work


async def test_discovery_gives_the_jwks_uri(issuer: LoopbackIssuer, clock: Clock) -> None:
    async with TokenVerifier(issuer.issuer, AUDIENCE, discover=True, clock=clock) as verifier:
        await verifier.verify(issuer.mint())
        await verifier.verify(issuer.mint())
    assert issuer.requests == [
        "/i_01jdtest/.well-known/openid-configuration",
        "/keys/current.json",
    ]


async def test_discovery_for_another_issuer_is_refused(
    issuer: LoopbackIssuer, clock: Clock
) -> None:
    """The document must name the issuer it was fetched for (OpenID Discovery §4.3)."""
    impostor = f"{issuer.base_url}/i_01jdimpostor"
    async with TokenVerifier(impostor, AUDIENCE, discover=True, clock=clock) as verifier:
        with pytest.raises(KeySetUnavailable, match="is not for issuer"):
            await verifier.verify(issuer.mint(issuer.attacker, iss=impostor))
    assert issuer.requests == ["/i_01jdimpostor/.well-known/openid-configuration"]


async def test_a_missing_discovery_document(issuer: LoopbackIssuer, clock: Clock) -> None:
    missing = f"{issuer.base_url}/i_01jdmissing"
    async with TokenVerifier(missing, AUDIENCE, discover=True, clock=clock) as verifier:
        for _ in range(3):
            with pytest.raises(KeySetUnavailable, match="answered 404"):
                await verifier.verify(issuer.mint(iss=missing))
    assert len(issuer.requests) == 1  # failures are retried only after a pause


async def test_an_explicit_jwks_uri(issuer: LoopbackIssuer, clock: Clock) -> None:
    uri = f"{issuer.base_url}/keys/current.json"
    async with TokenVerifier(issuer.issuer, AUDIENCE, jwks_uri=uri, clock=clock) as verifier:
        await verifier.verify(issuer.mint())
    assert issuer.requests == ["/keys/current.json"]
