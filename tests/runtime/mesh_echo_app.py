"""A stand-in node for the mesh proxy tests: it echoes the request it received as JSON.

Run under granian as `tests.runtime.mesh_echo_app:create_echo_app`, configured by
`ECHO_REGION` and `ECHO_INSTANCE`. Requests steer it with headers:

- `X-Echo-Replay: <value>` answers `fly-replay: <value>` unless the request is itself a replay
  (it carries `fly-replay-src`), so one replay follows;
- `X-Echo-Replay-Always: <value>` answers `fly-replay: <value>` every time (a replay loop);
- `/status/<code>` answers with that status; `/slow?seconds=<s>` waits that long first.
"""

from __future__ import annotations

import asyncio
import os

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_echo_app() -> Starlette:
    region = os.environ["ECHO_REGION"]
    instance = os.environ["ECHO_INSTANCE"]

    async def echo(request: Request) -> Response:
        body = await request.body()
        replay = request.headers.get("x-echo-replay-always")
        if replay is None and "fly-replay-src" not in request.headers:
            replay = request.headers.get("x-echo-replay")
        if replay is not None:
            return Response(b"replaying elsewhere", headers={"fly-replay": replay})
        if request.url.path == "/slow":
            await asyncio.sleep(float(request.query_params["seconds"]))
        status = 200
        if request.url.path.startswith("/status/"):
            status = int(request.url.path.removeprefix("/status/"))
        echoed = {
            "region": region,
            "instance": instance,
            "method": request.method,
            "path": request.url.path,
            "query": request.scope["query_string"].decode("latin-1"),
            "body": body.decode("utf-8", errors="replace") if len(body) <= 1024 else None,
            "body_bytes": len(body),
            "headers": [[name, value] for name, value in request.headers.items()],
        }
        response = Response(orjson.dumps(echoed), status, media_type="application/json")
        response.headers["x-echo-instance"] = instance
        response.headers.append("set-cookie", "a=1; Path=/")
        response.headers.append("set-cookie", "b=2; Path=/")
        return response

    return Starlette(routes=[Route("/{path:path}", echo, methods=METHODS)])
