"""`GET .../issuers/{issuer_id}/events`: the issuer's outbox, in commit order, with a cursor.

Consumers can pull instead of (or after) receiving webhooks. Filters: `type`, `subject`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.core import conventions
from api.core.access import issuer_principal
from api.json import json_response
from runtime.node import Node
from shards.outbox import Event

FILTERS = ("type", "subject")


async def list_events(request: Request) -> Response:
    node: Node = request.app.state.node
    params = request.path_params
    principal, placement = await issuer_principal(
        request, node, params["account_id"], params["issuer_id"]
    )
    principal.require("events:read")
    principal.reach(None)
    query = conventions.list_query(
        request.query_params, FILTERS, cursor=conventions.SEQUENCE_CURSOR
    )
    after = int(query.after) if query.after is not None else 0
    events = await node.shards.get(placement.shard_id).outbox.list(
        after_seq=after,
        limit=query.limit + 1,
        issuer_id=placement.issuer_id,
        type=query.filters.get("type"),
        subject=query.filters.get("subject"),
    )
    more = len(events) > query.limit
    events = events[: query.limit]
    return json_response(
        {
            "object": "list",
            "data": [represent_event(event) for event in events],
            "next_cursor": str(events[-1].seq) if more else None,
        }
    )


def represent_event(event: Event) -> dict[str, Any]:
    return {
        "object": "event",
        "id": event.id,
        "type": event.type,
        "subject": event.subject,
        "time": event.time,
        "actor": event.actor,
        "issuer_id": event.issuer_id,
        "data": event.data,
    }
