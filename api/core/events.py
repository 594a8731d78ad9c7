"""`GET .../issuers/{issuer_id}/events`: the issuer's outbox, in commit order, with a cursor;
`GET /v1/accounts/{account_id}/events`: the account-level events (the directory's outbox:
account, account API keys, issuer placement and deletion, webhooks), at the primary.

Consumers can pull instead of (or after) receiving webhooks. Filters: `type`, `subject`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.core import conventions
from api.core.access import account_principal, issuer_principal
from api.json import json_response
from api.problems import ServiceUnavailable
from runtime.node import Node
from runtime.routing import ensure_region
from shards.outbox import Event, Outbox, actor_type

FILTERS = ("type", "subject")


async def list_events(request: Request) -> Response:
    node: Node = request.app.state.node
    params = request.path_params
    principal, placement = await issuer_principal(
        request, node, params["account_id"], params["issuer_id"]
    )
    principal.require("events:read")
    principal.reach(None)
    outbox = node.shards.get(placement.shard_id).outbox
    return await _page(request, outbox, issuer_id=placement.issuer_id)


async def list_account_events(request: Request) -> Response:
    node: Node = request.app.state.node
    account_id = request.path_params["account_id"]
    await account_principal(request, node, account_id, "events:read")
    ensure_region(node.settings.primary_region, node.region)
    if node.directory is None:
        raise ServiceUnavailable("the directory is not open on this node")
    return await _page(request, node.directory.outbox, account_id=account_id)


async def _page(
    request: Request, outbox: Outbox, *, issuer_id: str | None = None, account_id: str | None = None
) -> Response:
    query = conventions.list_query(
        request.query_params, FILTERS, cursor=conventions.SEQUENCE_CURSOR
    )
    after = int(query.after) if query.after is not None else 0
    events = await outbox.list(
        after_seq=after,
        limit=query.limit + 1,
        issuer_id=issuer_id,
        account_id=account_id,
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
        "actor_type": actor_type(event.actor),
        "issuer_id": event.issuer_id,
        "data": event.data,
    }
