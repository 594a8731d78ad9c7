"""OAuth errors as RFC 6749 §5.2 shapes them: one class per wire code, one place for the body.

Every error answer is JSON `{"error", "error_description"}` with `Cache-Control: no-store`.
`invalid_client` is a 401 with a `WWW-Authenticate` challenge (RFC 6749 §5.2 and RFC 9110
§15.5.2). Descriptions are written for the developer calling the endpoint, never echo a
secret or token, and keep to the characters RFC 6749 allows in `error_description`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, Final

from starlette.responses import Response

from api.reply import Reply

NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
_NOT_ALLOWED: Final = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(Exception):
    error: ClassVar[str] = "invalid_request"
    status: ClassVar[int] = 400

    def __init__(self, description: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(description)
        self.description = _NOT_ALLOWED.sub("'", description)
        self.headers = dict(headers or {})


class InvalidRequest(OAuthError):
    error = "invalid_request"


class RequestTooLarge(OAuthError):
    error, status = "invalid_request", 413


class InvalidClient(OAuthError):
    error, status = "invalid_client", 401

    def __init__(self, description: str, *, realm: str) -> None:
        super().__init__(
            description,
            headers={"WWW-Authenticate": f'Basic realm="{realm}", error="invalid_client"'},
        )


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """RFC 8707 §2: a `resource` that is not an absolute URI without a fragment."""

    error = "invalid_target"


class InvalidDpopProof(OAuthError):
    """RFC 9449 §5."""

    error = "invalid_dpop_proof"


class UseDpopNonce(OAuthError):
    """RFC 9449 §8: retry with the nonce in the `DPoP-Nonce` header."""

    error = "use_dpop_nonce"

    def __init__(self, description: str, *, nonce: str) -> None:
        super().__init__(description, headers={"DPoP-Nonce": nonce})


class UnsupportedTokenType(OAuthError):
    """RFC 7009 §2.2.1."""

    error = "unsupported_token_type"


class TemporarilyUnavailable(OAuthError):
    error, status = "temporarily_unavailable", 503


def oauth_error_reply(exc: OAuthError) -> Reply:
    return Reply.json(
        {"error": exc.error, "error_description": exc.description},
        status=exc.status,
        headers={**NO_STORE, **exc.headers},
    )


def oauth_error_response(exc: OAuthError) -> Response:
    return oauth_error_reply(exc).response()
