"""TokenVerifier against a real JWKS on loopback: good tokens, and the known JWT attacks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from authpi_idp import (
    BadSignature,
    DisallowedAlgorithm,
    ExpiredToken,
    ImmatureToken,
    InvalidToken,
    MalformedToken,
    MissingClaim,
    TokenVerifier,
    UnknownKey,
    UnsupportedHeader,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from tests.sdk.issuer import AUDIENCE, Clock, LoopbackIssuer, b64url, sign, sign_hs256


async def refused(verifier: TokenVerifier, token: str, error: type[InvalidToken]) -> str:
    """The message of the error `verify` raised; it must never quote the token."""
    with pytest.raises(error) as raised:
        await verifier.verify(token)
    message = str(raised.value)
    for part in token.split("."):
        assert len(part) < 8 or part not in message
    return message


async def test_a_good_token_gives_its_claims(
    verifier: TokenVerifier, issuer: LoopbackIssuer
) -> None:
    token = await verifier.verify(issuer.mint(org={"id": "org_01jdacme", "status": "active"}))
    assert token.subject == "usr_01jdalice"
    assert token.client_id == "app_01jdhelpdesk"
    assert token.scopes == frozenset({"tickets:read", "tickets:write"})
    assert token.audience == (AUDIENCE,)
    assert token.issuer == issuer.issuer
    assert token.token_id == "at_01jdtoken"
    assert token.org == {"id": "org_01jdacme", "status": "active"}
    assert token.jkt is None
    assert (token.key_id, token.algorithm) == ("es-1", "ES256")


async def test_an_audience_list_and_a_dpop_binding(
    verifier: TokenVerifier, issuer: LoopbackIssuer
) -> None:
    minted = issuer.mint(aud=["https://other.example.com", AUDIENCE], cnf={"jkt": "0ZcOCORZ"})
    token = await verifier.verify(minted)
    assert token.audience == ("https://other.example.com", AUDIENCE)
    assert token.jkt == "0ZcOCORZ"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
async def test_typ_is_compared_case_insensitively(
    verifier: TokenVerifier, issuer: LoopbackIssuer, typ: str
) -> None:
    await verifier.verify(issuer.mint(header={"typ": typ}))


async def test_rs256_and_eddsa_when_allowed(issuer: LoopbackIssuer, clock: Clock) -> None:
    algorithms = ("ES256", "RS256", "EdDSA")
    async with TokenVerifier(issuer.issuer, AUDIENCE, algorithms=algorithms, clock=clock) as v:
        assert (await v.verify(issuer.mint(issuer.rs256))).algorithm == "RS256"
        assert (await v.verify(issuer.mint(issuer.eddsa))).algorithm == "EdDSA"


async def test_an_algorithm_outside_the_allow_list(
    verifier: TokenVerifier, issuer: LoopbackIssuer
) -> None:
    message = await refused(verifier, issuer.mint(issuer.rs256), DisallowedAlgorithm)
    assert message == "the token's 'alg' is not one of the allowed: ES256"


@pytest.mark.parametrize("algorithms", [("HS256",), ("ES256", "none"), (), "ES256"])
def test_symmetric_none_or_no_algorithms_cannot_be_configured(algorithms: Any) -> None:
    with pytest.raises(ValueError, match="algorithm"):
        TokenVerifier("https://id.example.com/i_1", AUDIENCE, algorithms=algorithms)


# The attacks: each forged token must be refused with the precise reason.


@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"])
async def test_alg_none(verifier: TokenVerifier, issuer: LoopbackIssuer, signature: str) -> None:
    unsigned = sign({"typ": "at+jwt", "alg": "none", "kid": "es-1"}, issuer.claims(), None)
    await refused(verifier, unsigned + signature, DisallowedAlgorithm)


async def test_hs256_with_the_public_key_as_secret(issuer: LoopbackIssuer, clock: Clock) -> None:
    """The classic key confusion: an HMAC keyed with the RSA public key the issuer publishes."""
    public_pem = issuer.rs256.as_pem(private=False)
    header = {"typ": "at+jwt", "alg": "HS256", "kid": "rs-1"}
    forged = sign_hs256(header, issuer.claims(), public_pem)
    async with TokenVerifier(issuer.issuer, AUDIENCE, algorithms=("RS256",), clock=clock) as v:
        await refused(v, forged, DisallowedAlgorithm)


async def test_an_allowed_alg_with_another_kind_of_key(
    issuer: LoopbackIssuer, clock: Clock
) -> None:
    """RS256 claimed over the EC key's `kid`: the key decides, not the token."""
    forged = issuer.mint(issuer.rs256, header={"kid": "es-1"})
    async with TokenVerifier(
        issuer.issuer, AUDIENCE, algorithms=("ES256", "RS256"), clock=clock
    ) as v:
        message = await refused(v, forged, DisallowedAlgorithm)
    assert message == "the token's key cannot verify RS256 signatures"


async def test_an_es256_token_over_a_key_of_another_curve(
    verifier: TokenVerifier, issuer: LoopbackIssuer
) -> None:
    p384 = ECKey.generate_key("P-384", parameters={"kid": "es-384"})
    issuer.published.keys.append(p384)
    header = {"typ": "at+jwt", "alg": "ES256", "kid": "es-384"}
    forged = sign(header, issuer.claims(), issuer.es256)  # a valid ES256 signature shape
    await refused(verifier, forged, DisallowedAlgorithm)


async def test_a_key_published_for_another_algorithm(issuer: LoopbackIssuer, clock: Clock) -> None:
    """The JWK's own `alg` binds it: an RS512 key does not verify RS256 tokens."""
    rs512 = RSAKey.import_key(issuer.rs256.as_dict(private=True), parameters={"alg": "RS512"})
    issuer.published.keys = [rs512]
    algorithms = ("RS256", "RS512")
    async with TokenVerifier(issuer.issuer, AUDIENCE, algorithms=algorithms, clock=clock) as v:
        await refused(v, issuer.mint(issuer.rs256), DisallowedAlgorithm)
        await v.verify(issuer.mint(rs512, header={"alg": "RS512"}))


async def test_an_unknown_kid(verifier: TokenVerifier, issuer: LoopbackIssuer) -> None:
    forged = issuer.mint(issuer.attacker)
    message = await refused(verifier, forged, UnknownKey)
    assert message == "no key in the issuer's JWKS has the token's 'kid'"


async def test_no_kid(verifier: TokenVerifier, issuer: LoopbackIssuer) -> None:
    await refused(verifier, issuer.mint(header={"kid": None}), UnknownKey)


@pytest.mark.parametrize("name", ["jku", "x5u"])
async def test_key_url_injection_is_refused_and_never_fetched(
    verifier: TokenVerifier, issuer: LoopbackIssuer, name: str
) -> None:
    forged = issuer.mint(issuer.attacker, header={name: issuer.attacker_jwks_uri})
    message = await refused(verifier, forged, UnsupportedHeader)
    assert message == f"the token carries refused headers: {name}"
    # Even with the issuer's own kid, the header is refused before any key is looked up.
    await refused(verifier, issuer.mint(header={name: issuer.attacker_jwks_uri}), UnsupportedHeader)
    assert "/attacker/jwks.json" not in issuer.requests


async def test_an_embedded_jwk_is_refused(verifier: TokenVerifier, issuer: LoopbackIssuer) -> None:
    embedded = issuer.attacker.as_dict(private=False)
    forged = issuer.mint(issuer.attacker, header={"jwk": embedded, "kid": "es-1"})
    await refused(verifier, forged, UnsupportedHeader)


async def test_x5c_is_refused(verifier: TokenVerifier, issuer: LoopbackIssuer) -> None:
    await refused(
        verifier, issuer.mint(header={"x5c": ["MIIBszCCAVmgAwIBAgIU"]}), UnsupportedHeader
    )


async def test_crit_is_refused(verifier: TokenVerifier, issuer: LoopbackIssuer) -> None:
    forged = issuer.mint(header={"crit": ["exp"], "exp": 1})
    assert await refused(verifier, forged, UnsupportedHeader) == (
        "the token carries refused headers: crit"
    )


async def test_expired(verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock) -> None:
    token = issuer.mint()
    clock.advance(300 + 30)  # lifetime plus the default leeway
    assert await refused(verifier, token, ExpiredToken) == "the token has expired"


async def test_expiry_within_leeway(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    token = issuer.mint()
    clock.advance(300 + 29)
    await verifier.verify(token)


async def test_not_yet_valid(verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock) -> None:
    token = issuer.mint(nbf=int(clock()) + 120)
    message = await refused(verifier, token, ImmatureToken)
    assert message == "the token is not valid yet ('nbf' is in the future)"


async def test_issued_in_the_future(
    verifier: TokenVerifier, issuer: LoopbackIssuer, clock: Clock
) -> None:
    token = issuer.mint(iat=int(clock()) + 120, exp=int(clock()) + 600)
    assert await refused(verifier, token, ImmatureToken) == (
        "the token was issued in the future ('iat')"
    )


@pytest.mark.parametrize("aud", ["https://other.example.com", ["https://other.example.com"]])
async def test_wrong_audience(verifier: TokenVerifier, issuer: LoopbackIssuer, aud: Any) -> None:
    message = await refused(verifier, issuer.mint(aud=aud), WrongAudience)
    assert message == f"the token's 'aud' does not include {AUDIENCE}"


@pytest.mark.parametrize("suffix", ["/", "x", "/../i_01jdother"])
async def test_wrong_issuer(verifier: TokenVerifier, issuer: LoopbackIssuer, suffix: str) -> None:
    message = await refused(verifier, issuer.mint(iss=issuer.issuer + suffix), WrongIssuer)
    assert message == f"the token was not issued by {issuer.issuer}"


async def test_another_tenant_of_the_same_host(
    verifier: TokenVerifier, issuer: LoopbackIssuer
) -> None:
    other = issuer.issuer.replace("i_01jdtest", "i_01jdother")
    await refused(verifier, issuer.mint(iss=other), WrongIssuer)


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt+extra", "application/jwt", None])
async def test_wrong_type(verifier: TokenVerifier, issuer: LoopbackIssuer, typ: str | None) -> None:
    """An ID token (`typ: JWT`) is not an access token, however well signed."""
    message = await refused(verifier, issuer.mint(header={"typ": typ}), WrongTokenType)
    assert message == "the token's 'typ' header is not 'at+jwt'"


async def test_tampered_payload(verifier: TokenVerifier, issuer: LoopbackIssuer) -> None:
    header, _, signature = issuer.mint().split(".")
    widened = b64url(json.dumps(issuer.claims(scope="tickets:read admin")).encode())
    message = await refused(verifier, f"{header}.{widened}.{signature}", BadSignature)
    assert message == "the token's signature does not verify"


async def test_signed_by_another_key_under_the_issuers_kid(
    verifier: TokenVerifier, issuer: LoopbackIssuer
) -> None:
    await refused(verifier, issuer.mint(issuer.attacker, header={"kid": "es-1"}), BadSignature)


@pytest.mark.parametrize(
    ("claim", "value", "expected"),
    [
        ("sub", None, "the 'sub' claim must be a non-empty string"),
        ("client_id", None, "the 'client_id' claim must be a non-empty string"),
        ("jti", "", "the 'jti' claim must be a non-empty string"),
        ("exp", None, "the 'exp' claim must be a NumericDate"),
        ("exp", "tomorrow", "the 'exp' claim must be a NumericDate"),
        ("iat", True, "the 'iat' claim must be a NumericDate"),
        ("aud", None, "the 'aud' claim must be a string or an array of strings"),
        ("scope", ["tickets:read"], "the 'scope' claim must be a space-separated string"),
        ("cnf", "jkt", "the 'cnf' claim must be an object"),
    ],
)
async def test_missing_or_mistyped_claims(
    verifier: TokenVerifier, issuer: LoopbackIssuer, claim: str, value: Any, expected: str
) -> None:
    assert await refused(verifier, issuer.mint(**{claim: value}), MissingClaim) == expected


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "e30.e30.", "bm90IGpzb24.e30.c2ln", "é.é.é", "x" * 9000],
)
async def test_malformed(verifier: TokenVerifier, token: str) -> None:
    await refused(verifier, token, MalformedToken)


async def test_a_payload_that_is_not_an_object(
    verifier: TokenVerifier, issuer: LoopbackIssuer
) -> None:
    header = {"typ": "at+jwt", "alg": "ES256", "kid": "es-1"}
    token = sign(header, b'["not", "claims"]', issuer.es256)
    assert await refused(verifier, token, MalformedToken) == (
        "the token's payload is not a JSON object"
    )
