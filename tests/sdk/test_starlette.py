"""Routes protected by scope, through a real starlette app and a real JWKS on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from authpi_idp import TokenVerifier
from authpi_idp.starlette import AccessTokenMiddleware, access_token, requires_scope
from tests.sdk.issuer import Clock, LoopbackIssuer


@requires_scope("tickets:read")
async def list_tickets(request: Request) -> Response:
    token = access_token(request)
    assert token is not None
    return JSONResponse({"subject": token.subject, "tickets": []})


@requires_scope("tickets:read", "tickets:delete")
def delete_tickets(request: Request) -> Response:
    return PlainTextResponse("deleted")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(verifier: TokenVerifier) -> Starlette:
    return Starlette(
        routes=[
            Route("/tickets", list_tickets),
            Route("/tickets", delete_tickets, methods=["DELETE"]),
            Route("/health", health),
        ],
        middleware=[Middleware(AccessTokenMiddleware, verifier=verifier)],
    )


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_with_the_scope(client: httpx.AsyncClient, issuer: LoopbackIssuer) -> None:
    response = await client.get("/tickets", headers=bearer(issuer.mint()))
    assert response.status_code == 200
    assert response.json() == {"subject": "usr_01jdalice", "tickets": []}


async def test_a_sync_endpoint_with_two_scopes(
    client: httpx.AsyncClient, issuer: LoopbackIssuer
) -> None:
    token = issuer.mint(scope="tickets:read tickets:delete")
    response = await client.delete("/tickets", headers=bearer(token))
    assert (response.status_code, response.text) == (200, "deleted")


async def test_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/tickets")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer scope="tickets:read"'
    assert response.content == b""


async def test_an_unprotected_route_needs_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200


async def test_a_token_without_the_scope(client: httpx.AsyncClient, issuer: LoopbackIssuer) -> None:
    response = await client.delete("/tickets", headers=bearer(issuer.mint()))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", error_description="this resource requires the '
        'scope tickets:read tickets:delete", scope="tickets:read tickets:delete"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "this resource requires the scope tickets:read tickets:delete",
        "scope": "tickets:read tickets:delete",
    }


async def test_an_expired_token(
    client: httpx.AsyncClient, issuer: LoopbackIssuer, clock: Clock
) -> None:
    token = issuer.mint()
    clock.advance(3600)
    response = await client.get("/tickets", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="the token has expired"'
    )
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "the token has expired",
    }


async def test_an_invalid_token_is_refused_even_on_an_unprotected_route(
    client: httpx.AsyncClient, issuer: LoopbackIssuer
) -> None:
    response = await client.get("/health", headers=bearer(issuer.mint(header={"typ": "JWT"})))
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "the token's 'typ' header is not 'at+jwt'",
    }


async def test_a_dpop_bound_token_sent_as_bearer(
    client: httpx.AsyncClient, issuer: LoopbackIssuer
) -> None:
    token = issuer.mint(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
    response = await client.get("/tickets", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "a DPoP-bound token was sent as a bearer token",
    }


async def test_the_dpop_scheme_is_not_accepted(
    client: httpx.AsyncClient, issuer: LoopbackIssuer
) -> None:
    headers = {
        "Authorization": f"DPoP {issuer.mint()}",
        "DPoP": "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.c2ln",
    }
    response = await client.get("/tickets", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="DPoP-bound tokens are not accepted here"'
    )


@pytest.mark.parametrize("value", ["Bearer", "Bearer two tokens", "Bearer <script>"])
async def test_a_malformed_authorization_header(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/tickets", headers={"Authorization": value})
    assert response.status_code == 400
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_request", error_description="the Authorization header is malformed"'
    )


async def test_another_scheme_is_left_alone(client: httpx.AsyncClient) -> None:
    response = await client.get("/tickets", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer scope="tickets:read"'


async def test_the_issuer_unreachable(client: httpx.AsyncClient, issuer: LoopbackIssuer) -> None:
    issuer.published.status = 502
    response = await client.get("/tickets", headers=bearer(issuer.mint()))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {
        "error_description": "access tokens cannot be verified now; retry later"
    }


async def test_a_route_protected_without_the_middleware(verifier: TokenVerifier) -> None:
    app = Starlette(routes=[Route("/tickets", list_tickets)])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        with pytest.raises(RuntimeError, match="AccessTokenMiddleware"):
            await client.get("/tickets")


def test_an_invalid_scope_cannot_be_required() -> None:
    with pytest.raises(ValueError, match="not a valid scope"):
        requires_scope('tickets "read"')
