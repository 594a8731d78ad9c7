"""Core API: what was delivered to a subscription, and asking for deliveries again.

Delivery records (`dlv_`, one per attempt) live beside the events they carried, so they are
read where those events live:

- account-level events (`account.*`, account `api_key.*`, `issuer.placed`, `issuer.deleted`,
  `webhook.*`) in the directory: `/v1/accounts/{account}/webhooks/{webhook}/...`, answered
  at the primary;
- an issuer's events in its shard: `/v1/accounts/{account}/issuers/{issuer}/webhooks/
  {webhook}/...`, answered in the issuer's home region (records hold request headers and
  excerpts of responses, which stay in the issuer's jurisdiction like the events).

At each level: `GET .../deliveries` (cursor pagination; filters `event_id` and `outcome`),
`POST .../redeliver` with `{"event_id"}`, and `POST .../replay` with `{"since", "until"}`
(every event of the range the subscription wants, at most `MAX_REPLAY`). Both answer 202:
the deliveries are queued, made beside the subscription's ordered stream, and recorded
with `trigger` `redeliver` or `replay`. Scopes `webhooks:read` and `webhooks:write`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.body import parse_json_object, read_json_body
from api.core import conventions
from api.core.access import Principal, issuer_principal, primary_principal
from api.core.webhooks import webhook_id
from api.json import json_response
from api.problems import (
    ConflictProblem,
    NotFoundProblem,
    ServiceUnavailable,
    ValidationFailed,
    WebhookDisabled,
)
from api.schema import Schema, String
from runtime.node import Node
from shards.clock import rfc3339
from shards.database import Database, Transaction
from shards.deliveries import OUTCOMES, Delivery, DeliveryStore
from shards.errors import NotFound, StorageError
from shards.idempotency import IdempotencyStore, StoredResponse
from shards.ids import is_id
from shards.outbox import EventFilter, Outbox
from shards.webhooks import Webhook

ACCOUNT_ITEM: Final = "/v1/accounts/{account_id}/webhooks/{webhook_id}"
ISSUER_ITEM: Final = "/v1/accounts/{account_id}/issuers/{issuer_id}/webhooks/{webhook_id}"
MAX_REPLAY: Final = 10_000  # events one replay may queue; more: split the range

REDELIVER: Final = Schema(
    "Redelivery",
    {
        "event_id": String(
            "The event to deliver again.", max_length=40, example="evt_01jd8k2v6m4q9x7c3n5b8r2t0w"
        )
    },
    required=frozenset({"event_id"}),
)
REPLAY: Final = Schema(
    "Replay",
    {
        "since": String("From this time on (RFC 3339).", max_length=40, format="date-time"),
        "until": String(
            "Up to this time, excluded (RFC 3339); default: now.", max_length=40, format="date-time"
        ),
    },
    required=frozenset({"since"}),
)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a subscription's deliveries of some events are kept, and which events those are."""

    database: Database
    outbox: Outbox
    deliveries: DeliveryStore
    idempotency: IdempotencyStore
    wanted: EventFilter
    issuer_id: str | None  # None: the account-level events, in the directory
    principal: Principal
    webhook: Webhook


def represent(delivery: Delivery) -> dict[str, Any]:
    return {
        "object": "delivery",
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "issuer_id": delivery.issuer_id,
        "trigger": delivery.trigger,
        "attempt": delivery.attempt,
        "outcome": delivery.outcome,
        "url": delivery.url,
        "request_headers": dict(delivery.request_headers),
        "status_code": delivery.status_code,
        "response_excerpt": delivery.response_excerpt,
        "latency_ms": delivery.latency_ms,
        "error": delivery.error,
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
    }


async def _webhook(node: Node, account_id: str, identifier: str) -> Webhook:
    webhook = node.replica.snapshot.webhooks.get(identifier)
    if webhook is None and await node.replica.refresh_on_miss():
        webhook = node.replica.snapshot.webhooks.get(identifier)
    if webhook is None or webhook.account_id != account_id:
        raise NotFoundProblem(f"webhook {identifier} not found")
    return webhook


async def _account_place(request: Request, scope: str) -> Place:
    node, directory, principal = await primary_principal(request, scope)
    account_id = principal.account_id
    webhook = await _webhook(node, account_id, webhook_id(request))
    wanted = EventFilter(
        webhook.event_types, issuer_ids=webhook.issuer_ids or None, account_id=account_id
    )
    return Place(
        directory.database,
        directory.outbox,
        directory.deliveries,
        directory.idempotency,
        wanted,
        None,
        principal,
        webhook,
    )


async def _issuer_place(request: Request, scope: str) -> Place:
    node: Node = request.app.state.node
    params = request.path_params
    principal, placement = await issuer_principal(
        request, node, params["account_id"], params["issuer_id"]
    )
    principal.require(scope)
    principal.reach(None)
    try:
        shard = node.shards.get(placement.shard_id)
    except NotFound as exc:
        raise ServiceUnavailable(f"the shard of issuer {placement.issuer_id} is not open") from exc
    webhook = await _webhook(node, principal.account_id, webhook_id(request))
    covered = not webhook.issuer_ids or placement.issuer_id in webhook.issuer_ids
    wanted = EventFilter(webhook.event_types if covered else (), issuer_ids=[placement.issuer_id])
    return Place(
        shard.database,
        shard.outbox,
        shard.deliveries,
        shard.idempotency,
        wanted,
        placement.issuer_id,
        principal,
        webhook,
    )


async def list_account_deliveries(request: Request) -> Response:
    return await _list(await _account_place(request, "webhooks:read"), request)


async def list_issuer_deliveries(request: Request) -> Response:
    return await _list(await _issuer_place(request, "webhooks:read"), request)


async def redeliver_account_event(request: Request) -> Response:
    return await _redeliver(await _account_place(request, "webhooks:write"), request)


async def redeliver_issuer_event(request: Request) -> Response:
    return await _redeliver(await _issuer_place(request, "webhooks:write"), request)


async def replay_account_events(request: Request) -> Response:
    return await _replay(await _account_place(request, "webhooks:write"), request)


async def replay_issuer_events(request: Request) -> Response:
    return await _replay(await _issuer_place(request, "webhooks:write"), request)


async def _list(place: Place, request: Request) -> Response:
    query = conventions.list_query(
        request.query_params, ("event_id", "outcome"), enums={"outcome": OUTCOMES}
    )
    if query.after is not None and not is_id(query.after, "dlv"):
        raise ValidationFailed(
            [{"field": "cursor", "message": "is not a cursor this API returned"}]
        )
    page = await place.deliveries.page(
        place.webhook.id,
        issuer_id=place.issuer_id,
        after=query.after,
        limit=query.limit + 1,
        filters=query.filters,
    )
    return conventions.page_response(page, query.limit, represent)


async def _redeliver(place: Place, request: Request) -> Response:
    raw = await read_json_body(request)
    fields = REDELIVER.validate(parse_json_object(raw))
    event = await place.outbox.find(fields["event_id"])
    if event is None or not _wanted(place, event.type, event.issuer_id, event.account_id):
        raise NotFoundProblem(
            f"event {fields['event_id']} is not among the events this subscription receives"
        )

    async def queue(tx: Transaction) -> dict[str, Any]:
        await place.deliveries.queue(
            tx, place.webhook.id, [event.seq], "redeliver", place.principal.key_id
        )
        return {
            "object": "redelivery",
            "webhook_id": place.webhook.id,
            "event_id": event.id,
            "queued": 1,
        }

    return await _action(place, request, raw, queue)


async def _replay(place: Place, request: Request) -> Response:
    node: Node = request.app.state.node
    raw = await read_json_body(request)
    fields = REPLAY.validate(parse_json_object(raw))
    until = fields.get("until") or rfc3339(node.clock.now())
    events = (  # an empty range (since at or after until) replays nothing
        await place.outbox.between(fields["since"], until, place.wanted, MAX_REPLAY + 1)
        if place.wanted.types and fields["since"] < until
        else []
    )
    if len(events) > MAX_REPLAY:
        raise ConflictProblem(
            f"the range holds more than {MAX_REPLAY} events; replay shorter ranges one after"
            " another"
        )

    async def queue(tx: Transaction) -> dict[str, Any]:
        queued = await place.deliveries.queue(
            tx, place.webhook.id, [e.seq for e in events], "replay", place.principal.key_id
        )
        return {
            "object": "replay",
            "webhook_id": place.webhook.id,
            "since": fields["since"],
            "until": until,
            "queued": queued,
        }

    return await _action(place, request, raw, queue)


async def _action(
    place: Place,
    request: Request,
    raw: bytes,
    queue: Callable[[Transaction], Awaitable[dict[str, Any]]],
) -> Response:
    """Queue deliveries once per `Idempotency-Key` (the lookup, the queueing and the stored
    answer commit together); a disabled subscription is refused."""
    if not place.webhook.enabled:
        raise WebhookDisabled(
            f"webhook {place.webhook.id} is disabled; enable it to have events delivered"
        )
    key = conventions.idempotency_key(request)
    scope = f"{place.principal.key_id}:{place.issuer_id or place.principal.account_id}"
    fingerprint = conventions.fingerprint("POST", request.url.path, raw)
    try:
        async with place.database.transaction() as tx:
            earlier = await conventions.earlier_reply(
                place.idempotency, tx, scope, key, fingerprint
            )
            if earlier is not None:
                return earlier
            body = await queue(tx)
            if key is not None:
                await place.idempotency.store(
                    tx, scope, key, StoredResponse(fingerprint, 202, {}, orjson.dumps(body))
                )
    except StorageError as exc:
        raise ServiceUnavailable("the deliveries could not be queued; retry") from exc
    return json_response(body, status_code=202)


def _wanted(place: Place, type: str, issuer_id: str | None, account_id: str | None) -> bool:
    wanted = place.wanted
    if type not in wanted.types:
        return False
    if wanted.issuer_ids is not None and issuer_id not in wanted.issuer_ids:
        return False
    return wanted.account_id is None or account_id == wanted.account_id
