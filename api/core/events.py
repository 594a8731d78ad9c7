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
from api.core.access import issuer_principal, primary_principal
from runtime.node import Node
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
    _, directory, principal = await primary_principal(request, "events:read")
    return await _page(request, directory.outbox, account_id=principal.account_id)


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
    return conventions.page_response(
        events, query.limit, represent_event, cursor=lambda event: str(event.seq)
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
