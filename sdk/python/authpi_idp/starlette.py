"""Protect starlette routes with AuthPI access tokens sent as bearer tokens (RFC 6750).

    verifier = TokenVerifier("https://id.example.com/i_01...", "https://api.example.com")
    app = Starlette(
        routes=[Route("/tickets", requires_scope("tickets:read")(list_tickets))],
        middleware=[Middleware(AccessTokenMiddleware, verifier=verifier)],
    )

`AccessTokenMiddleware` verifies the token of every HTTP request that has an
`Authorization: Bearer` header and answers 401 `invalid_token` (RFC 6750 §3.1) when it is not
valid; requests without one pass through, and `requires_scope` answers them 401 with a bare
`Bearer` challenge (§3.1: no error code when no credentials were sent), or 403
`insufficient_scope` naming the scopes required when the token lacks one.

DPoP (RFC 9449) proofs are not checked here, so DPoP-bound tokens are refused: a token with
`cnf.jkt` presented as a bearer token, and any `Authorization: DPoP` header, answer 401.
Other schemes (`Basic`, ...) are left for other layers. Tokens in the query string or a form
body (RFC 6750 §2.2-2.3) are not read.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Final, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from authpi_idp.errors import InvalidToken, KeySetUnavailable
from authpi_idp.verifier import TokenVerifier, VerifiedToken

logger = logging.getLogger("authpi_idp")

# Where the middleware leaves the verified token (or None) in the ASGI scope.
SCOPE_KEY: Final = "authpi.access_token"
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_NOT_IN_DESCRIPTION: Final = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
RETRY_AFTER_SECONDS: Final = 5

Endpoint = Callable[[Request], Awaitable[Response] | Response]


def challenge(
    status: int, error: str | None = None, description: str = "", scope: str = ""
) -> Response:
    """The one place an RFC 6750 §3 error becomes a response."""
    params: list[str] = []
    if error:
        params.append(f'error="{error}"')
    if description:
        params.append(f'error_description="{_NOT_IN_DESCRIPTION.sub("?", description)}"')
    if scope:
        params.append(f'scope="{scope}"')
    headers = {
        "WWW-Authenticate": "Bearer" + (" " + ", ".join(params) if params else ""),
        "Cache-Control": "no-store",
    }
    if error is None:
        return Response(status_code=status, headers=headers)
    body: dict[str, str] = {"error": error}
    if description:
        body["error_description"] = description
    if scope:
        body["scope"] = scope
    return JSONResponse(body, status_code=status, headers=headers)


class AccessTokenMiddleware:
    """Verifies `Authorization: Bearer` tokens and leaves them for `requires_scope`."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        outcome = await self._authenticate(Request(scope).headers.getlist("authorization"))
        if isinstance(outcome, Response):
            await outcome(scope, receive, send)
            return
        scope[SCOPE_KEY] = outcome
        await self.app(scope, receive, send)

    async def _authenticate(self, values: list[str]) -> VerifiedToken | Response | None:
        if not values:
            return None
        if len(values) > 1:
            return challenge(400, "invalid_request", "more than one Authorization header")
        scheme, _, credentials = values[0].strip().partition(" ")
        if scheme.lower() == "dpop":
            return challenge(401, "invalid_token", "DPoP-bound tokens are not accepted here")
        if scheme.lower() != "bearer":
            return None
        credentials = credentials.strip()
        if not _B64TOKEN.fullmatch(credentials):
            return challenge(400, "invalid_request", "the Authorization header is malformed")
        try:
            token = await self.verifier.verify(credentials)
        except InvalidToken as exc:
            logger.info("access token refused: %s", exc)
            return challenge(401, "invalid_token", str(exc))
        except KeySetUnavailable as exc:
            logger.warning("cannot verify access tokens: %s", exc)
            return JSONResponse(
                {"error_description": "access tokens cannot be verified now; retry later"},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
            )
        if token.jkt is not None:
            # RFC 9449 §7.1: without checking the proof, a bound token must not pass as bearer.
            return challenge(401, "invalid_token", "a DPoP-bound token was sent as a bearer token")
        return token


def access_token(request: Request) -> VerifiedToken | None:
    """The request's verified access token, or None when it came without one."""
    if SCOPE_KEY not in request.scope:
        raise RuntimeError("access tokens are read by AccessTokenMiddleware; add it to the app")
    token: VerifiedToken | None = request.scope[SCOPE_KEY]
    return token


def requires_scope(*scopes: str) -> Callable[[Endpoint], Callable[[Request], Awaitable[Response]]]:
    """Protect an endpoint `(request) -> Response`: a valid token with all of `scopes`."""
    for scope in scopes:
        if not _SCOPE_TOKEN.fullmatch(scope):
            raise ValueError(f"{scope!r} is not a valid scope (RFC 6749 §3.3)")
    required = " ".join(scopes)

    def decorate(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def protected(request: Request) -> Response:
            token = access_token(request)
            if token is None:
                return challenge(401, scope=required)
            if not token.has_scopes(*scopes):
                return challenge(
                    403,
                    "insufficient_scope",
                    f"this resource requires the scope {required}",
                    required,
                )
            if inspect.iscoroutinefunction(endpoint):
                response: Response = await endpoint(request)
                return response
            return await run_in_threadpool(cast(Callable[[Request], Response], endpoint), request)

        return protected

    return decorate
