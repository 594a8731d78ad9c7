"""Why a token was refused, or why it could not be checked.

    AuthPIError                   any error of this package
    ├── InvalidToken              the token must be refused (RFC 6750 §3.1 `invalid_token`)
    │   ├── MalformedToken        not a compact JWS with JSON header and claims
    │   ├── UnsupportedHeader     a header the verifier refuses (`crit`, `jku`, `x5u`, `jwk`, ...)
    │   ├── WrongTokenType        `typ` is not `at+jwt` (RFC 9068 §4)
    │   ├── DisallowedAlgorithm   `alg` is not in the allow-list, or not the key's algorithm
    │   ├── UnknownKey            no key in the issuer's JWKS has the token's `kid`
    │   ├── BadSignature          the signature does not verify
    │   └── InvalidClaims         the signature is good but the claims are not acceptable
    │       ├── MissingClaim      a claim RFC 9068 §2.2 requires is absent or of the wrong type
    │       ├── WrongIssuer       `iss` is not the configured issuer
    │       ├── WrongAudience     `aud` does not name the configured audience
    │       ├── ExpiredToken      `exp` has passed
    │       └── ImmatureToken     `nbf` or `iat` is in the future
    └── KeySetUnavailable         the issuer's JWKS (or discovery document) could not be read

Messages name the failing check and never contain the token or its signature, so they are
safe to log and to send back in an `error_description`.
"""

from __future__ import annotations


class AuthPIError(Exception):
    """Base class of every error raised by `authpi_idp`."""


class InvalidToken(AuthPIError):
    """The token must be refused; answer 401 `invalid_token` (RFC 6750 §3.1)."""


class MalformedToken(InvalidToken):
    """Not a JWS in compact serialization with a JSON header and a JSON object payload."""


class UnsupportedHeader(InvalidToken):
    """RFC 8725 §3.10: keys named by the token itself are never used; `crit` is refused."""


class WrongTokenType(InvalidToken):
    """RFC 9068 §4: the `typ` header must be `at+jwt` (RFC 8725 §3.11, explicit typing)."""


class DisallowedAlgorithm(InvalidToken):
    """RFC 8725 §3.1: only allow-listed algorithms, each only with a key of its own type."""


class UnknownKey(InvalidToken):
    """The `kid` is not in the issuer's JWKS, even after a refetch."""


class BadSignature(InvalidToken):
    """The signature does not verify with the issuer's key."""


class InvalidClaims(InvalidToken):
    """The signature verifies but a claim is not acceptable (RFC 9068 §4)."""


class MissingClaim(InvalidClaims):
    def __init__(self, claim: str, expected: str = "present") -> None:
        super().__init__(f"the {claim!r} claim must be {expected}")
        self.claim = claim


class WrongIssuer(InvalidClaims):
    """RFC 9068 §4: `iss` must exactly match the issuer the resource server trusts."""


class WrongAudience(InvalidClaims):
    """RFC 9068 §4: `aud` must contain the resource server's own identifier."""


class ExpiredToken(InvalidClaims):
    """RFC 7519 §4.1.4: the token must not be accepted on or after `exp`."""


class ImmatureToken(InvalidClaims):
    """RFC 7519 §4.1.5: not before `nbf`; and a token issued in the future is refused too."""


class KeySetUnavailable(AuthPIError):
    """The JWKS or discovery document could not be fetched or parsed.

    Not the client's fault: answer 503 and retry later, not 401.
    """
