"""The routing rule: home work runs in the issuer's home region, edge work where it lands.

A node that receives home work for an issuer homed elsewhere processes nothing: it answers
`421 Misdirected Request` with `fly-replay: region=<home>`, and the proxy (Fly's, or the local
mesh's) replays the request there. The node never proxies home work itself.
"""

from __future__ import annotations

from typing import Final

import orjson
from starlette.responses import Response

from api.problems import PROBLEM_BASE, PROBLEM_JSON

REPLAY_STATUS: Final = 421


class Replay(Exception):
    """Raised by a handler that must not run in this region."""

    def __init__(self, region: str) -> None:
        super().__init__(f"replay in {region}")
        self.region = region


def ensure_region(target: str, here: str) -> None:
    if target != here:
        raise Replay(target)


def replay_response(replay: Replay, here: str) -> Response:
    body = {
        "type": PROBLEM_BASE + "misdirected-request",
        "title": "Misdirected request",
        "status": REPLAY_STATUS,
        "detail": f"this request is served in region {replay.region}, not {here}",
        "region": replay.region,
    }
    return Response(
        orjson.dumps(body),
        status_code=REPLAY_STATUS,
        media_type=PROBLEM_JSON,
        headers={"fly-replay": f"region={replay.region}", "Cache-Control": "no-store"},
    )
