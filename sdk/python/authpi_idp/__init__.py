"""Verify AuthPI access tokens in your own services.

`TokenVerifier` checks RFC 9068 JWT access tokens against the issuer's JWKS;
`authpi_idp.starlette` protects starlette routes by scope (install the `starlette` extra).
"""

from __future__ import annotations

from authpi_idp.errors import (
    AuthPIError,
    BadSignature,
    DisallowedAlgorithm,
    ExpiredToken,
    ImmatureToken,
    InvalidClaims,
    InvalidToken,
    KeySetUnavailable,
    MalformedToken,
    MissingClaim,
    UnknownKey,
    UnsupportedHeader,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from authpi_idp.jwks import KeySetCache
from authpi_idp.verifier import TokenVerifier, VerifiedToken

__all__ = [
    "AuthPIError",
    "BadSignature",
    "DisallowedAlgorithm",
    "ExpiredToken",
    "ImmatureToken",
    "InvalidClaims",
    "InvalidToken",
    "KeySetCache",
    "KeySetUnavailable",
    "MalformedToken",
    "MissingClaim",
    "TokenVerifier",
    "UnknownKey",
    "UnsupportedHeader",
    "VerifiedToken",
    "WrongAudience",
    "WrongIssuer",
    "WrongTokenType",
]
