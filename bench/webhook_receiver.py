"""The benchmark's receiver: a starlette app that notes when each delivery arrived.

`POST /hooks` keeps `(event id, event time, arrival)`; `GET /arrivals` returns them. It
answers 204 at once and verifies nothing (the tests verify; here it measures).
"""

from __future__ import annotations

import time

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def receiver_app() -> Starlette:
    arrivals: list[tuple[str, str, float]] = []

    async def hook(request: Request) -> Response:
        event = orjson.loads(await request.body())
        arrivals.append((event["id"], event["time"], time.time()))
        return Response(status_code=204)

    async def listed(request: Request) -> Response:
        return Response(orjson.dumps(arrivals), media_type="application/json")

    return Starlette(
        routes=[
            Route("/hooks", hook, methods=["POST"]),
            Route("/arrivals", listed, methods=["GET"]),
        ]
    )
