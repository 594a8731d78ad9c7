"""`create_app`: the single assembly point of a node.

Settings, the clock and the HTTP client for node-to-node calls come in here and nowhere
else; `app_from_environ` is the factory granian runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import internal, openapi
from api.core import (
    account_keys,
    crud,
    deliveries,
    events,
    invitations,
    issuers,
    signing_keys,
    webhooks,
)
from api.json import json_response
from api.oauth import endpoints as oauth
from api.oauth.errors import OAuthError, oauth_error_response
from api.oauth.replay import GOSSIP_PATH
from api.oauth.wire import starlette_endpoint
from api.problems import (
    InternalError,
    MethodNotAllowed,
    NotFoundProblem,
    Problem,
    problem_response,
)
from runtime.node import Node
from runtime.routing import Replay, replay_response
from runtime.rsgi import RsgiNode
from runtime.settings import Settings
from shards.clock import Clock, SystemClock

log = logging.getLogger("authpi.app")

REGION_HEADER = b"authpi-region"


def create_app(
    settings: Settings, *, clock: Clock | None = None, http: httpx.AsyncClient | None = None
) -> Starlette:
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = http or httpx.AsyncClient()
        node = await Node.open(settings, clock, client)
        app.state.node = node
        app.state.oauth = oauth.OAuth(node)
        app.state.oauth.start()
        try:
            yield
        finally:
            await app.state.oauth.stop()
            await node.stop()
            if http is None:
                await client.aclose()

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc)

    async def on_oauth_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OAuthError)
        return oauth_error_response(exc)

    async def on_replay(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Replay)
        return replay_response(exc, settings.region)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return problem_response(
                MethodNotAllowed(
                    f"{request.method} is not allowed on {request.url.path}",
                    headers=dict(exc.headers or {}),
                )
            )
        return problem_response(NotFoundProblem(f"no resource at {request.url.path}"))

    async def on_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(InternalError("an internal error occurred; it has been logged"))

    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        exception_handlers={
            Problem: on_problem,
            OAuthError: on_oauth_error,
            Replay: on_replay,
            HTTPException: on_http_error,
            Exception: on_error,
        },
    )
    app.add_middleware(RegionHeader, region=settings.region)
    return app


def routes() -> list[Route]:
    spec = openapi.render()

    async def openapi_document(request: Request) -> Response:
        return Response(
            spec, media_type="application/json", headers={"Cache-Control": "public, max-age=300"}
        )

    return [
        Route("/health", health, methods=["GET"]),
        Route("/v1/openapi.json", openapi_document, methods=["GET"]),
        Route(
            "/{issuer_id}/.well-known/openid-configuration",
            starlette_endpoint(oauth.openid_configuration),
            methods=["GET"],
        ),
        Route(
            "/.well-known/oauth-authorization-server/{issuer_id}",
            starlette_endpoint(oauth.openid_configuration),
            methods=["GET"],
        ),
        Route("/{issuer_id}/jwks.json", starlette_endpoint(oauth.jwks), methods=["GET"]),
        Route("/{issuer_id}/token", starlette_endpoint(oauth.token), methods=["POST"]),
        Route("/{issuer_id}/introspect", starlette_endpoint(oauth.introspect), methods=["POST"]),
        Route("/{issuer_id}/revoke", starlette_endpoint(oauth.revoke), methods=["POST"]),
        *_by_path(
            [
                *ACCOUNT_OPERATIONS,
                *(
                    (operation.method, operation.path, operation.handler)
                    for operation in [*crud.OPERATIONS, *invitations.OPERATIONS]
                ),
            ]
        ),
        Route(f"{crud.ISSUER_PATH}/events", events.list_events, methods=["GET"]),
        Route("/v1/accounts/{account_id}/events", events.list_account_events, methods=["GET"]),
        Route(
            f"{deliveries.ACCOUNT_ITEM}/deliveries",
            deliveries.list_account_deliveries,
            methods=["GET"],
        ),
        Route(
            f"{deliveries.ACCOUNT_ITEM}/redeliver",
            deliveries.redeliver_account_event,
            methods=["POST"],
        ),
        Route(
            f"{deliveries.ACCOUNT_ITEM}/replay", deliveries.replay_account_events, methods=["POST"]
        ),
        Route(
            f"{deliveries.ISSUER_ITEM}/deliveries",
            deliveries.list_issuer_deliveries,
            methods=["GET"],
        ),
        Route(
            f"{deliveries.ISSUER_ITEM}/redeliver",
            deliveries.redeliver_issuer_event,
            methods=["POST"],
        ),
        Route(
            f"{deliveries.ISSUER_ITEM}/replay", deliveries.replay_issuer_events, methods=["POST"]
        ),
        Route(webhooks.ROTATE, webhooks.rotate_secret, methods=["POST"]),
        Route(f"{crud.ISSUER_PATH}/signing_keys", signing_keys.list_keys, methods=["GET"]),
        Route(f"{crud.ISSUER_PATH}/signing_keys/rotate", signing_keys.rotate, methods=["POST"]),
        Route("/_internal/v1/directory", internal.directory_snapshot, methods=["GET"]),
        Route("/_internal/v1/issuers", internal.register_issuer, methods=["POST"]),
        Route("/_internal/v1/edge/changed", internal.edge_changed, methods=["POST"]),
        Route(GOSSIP_PATH, internal.oauth_seen, methods=["POST"]),
        Route("/_internal/v1/edge/versions", internal.edge_versions, methods=["POST"]),
        Route("/_internal/v1/edge/{issuer_id}", internal.edge_snapshot, methods=["GET"]),
        Route("/_internal/v1/issuers/{issuer_id}", internal.list_issuer, methods=["PUT"]),
        Route("/_internal/v1/issuers/{issuer_id}/delete", internal.remove_issuer, methods=["POST"]),
        Route("/_internal/v1/api_keys/usage", internal.record_key_usage, methods=["POST"]),
        Route("/_internal/v1/idempotency", internal.stored_response, methods=["POST"]),
        Route(
            "/_internal/v1/webhooks/{webhook_id}/disable",
            internal.disable_webhook,
            methods=["POST"],
        ),
    ]


ACCOUNT_OPERATIONS: list[tuple[str, str, crud.Handler]] = [
    ("POST", issuers.COLLECTION, issuers.create_issuer),
    ("GET", issuers.COLLECTION, issuers.list_issuers),
    ("GET", issuers.ITEM, issuers.get_issuer),
    ("PATCH", issuers.ITEM, issuers.update_issuer),
    ("DELETE", issuers.ITEM, issuers.delete_issuer),
    ("POST", account_keys.COLLECTION, account_keys.create_api_key),
    ("GET", account_keys.COLLECTION, account_keys.list_api_keys),
    ("GET", account_keys.ITEM, account_keys.get_api_key),
    ("POST", webhooks.COLLECTION, webhooks.create_webhook),
    ("GET", webhooks.COLLECTION, webhooks.list_webhooks),
    ("GET", webhooks.ITEM, webhooks.get_webhook),
    ("PATCH", webhooks.ITEM, webhooks.update_webhook),
    ("DELETE", webhooks.ITEM, webhooks.delete_webhook),
    ("PATCH", account_keys.ITEM, account_keys.update_api_key),
    ("DELETE", account_keys.ITEM, account_keys.revoke_api_key),
]


def _by_path(operations: list[tuple[str, str, crud.Handler]]) -> list[Route]:
    """One route per path, so a 405 answers with every method the path has in `Allow`."""
    table: dict[str, dict[str, crud.Handler]] = {}
    for method, path, handler in operations:
        table.setdefault(path, {})[method] = handler
    routes = []
    for path, handlers in table.items():

        async def dispatch(
            request: Request, handlers: dict[str, crud.Handler] = handlers
        ) -> Response:
            method = "GET" if request.method == "HEAD" else request.method
            return await handlers[method](request)

        routes.append(Route(path, dispatch, methods=list(handlers)))
    return routes


async def health(request: Request) -> Response:
    """Ready once the node holds a copy of the directory; 503 until then."""
    node: Node = request.app.state.node
    ready = node.replica.loaded
    return json_response(
        {
            "status": "ok" if ready else "starting",
            "region": node.region,
            "instance": node.settings.instance,
            "primary_region": node.settings.primary_region,
            "directory_version": node.replica.snapshot.version,
        },
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


class RegionHeader:
    """Every response names the region that produced it, for operators and tests."""

    def __init__(self, app: ASGIApp, region: str) -> None:
        self.app = app
        self.value = region.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_region(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (REGION_HEADER, self.value)]
            await send(message)

        await self.app(scope, receive, send_with_region)


def app_from_environ() -> RsgiNode:
    """The factory granian runs (`--interface rsgi --factory runtime.app:app_from_environ`)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per directory pull is noise
    settings = Settings.from_environ(os.environ)
    return RsgiNode(create_app(settings), settings.region)
