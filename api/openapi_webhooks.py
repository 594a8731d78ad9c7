"""The OpenAPI descriptions of webhooks: subscriptions, delivery records, redelivery and
replay, the account's events, and the `webhooks` section: one entry per event type, with the
CloudEvent a receiver gets and the schema of its `data`."""

from __future__ import annotations

from typing import Any, Final

from api.core import deliveries, webhooks
from api.core.catalogue import DATA_SCHEMAS, EVENT_TYPES, EventType
from api.core.conventions import SEQUENCE_CURSOR
from api.openapi_accounts import READ_ERRORS, WRITE_ERRORS, _operation
from api.openapi_parts import (
    ID_BODY,
    SAMPLE_BODY,
    body,
    conditional,
    idempotency_parameter,
    if_match,
    json,
    list_of,
    list_parameters,
)
from shards.deliveries import OUTCOMES, TRIGGERS
from shards.webhooks import STATUSES

CREATED_AT: Final = "2026-11-29T12:00:00.000Z"
WEBHOOK_SAMPLE: Final = {
    "object": "webhook",
    "id": f"wh_{SAMPLE_BODY}",
    "account_id": f"acct_{SAMPLE_BODY}",
    "url": "https://hooks.example.com/authpi",
    "description": "",
    "event_types": ["user.created", "session.compromised"],
    "issuer_ids": [],
    "status": "enabled",
    "disabled_reason": None,
    "previous_secret_expires_at": None,
    "created_at": CREATED_AT,
    "updated_at": CREATED_AT,
}
DELIVERY_SAMPLE: Final = {
    "object": "delivery",
    "id": f"dlv_{SAMPLE_BODY}",
    "webhook_id": f"wh_{SAMPLE_BODY}",
    "event_id": f"evt_{SAMPLE_BODY}",
    "event_type": "user.created",
    "issuer_id": f"i_{SAMPLE_BODY}",
    "trigger": "event",
    "attempt": 1,
    "outcome": "succeeded",
    "url": "https://hooks.example.com/authpi",
    "request_headers": {
        "Content-Type": "application/cloudevents+json; charset=utf-8",
        "webhook-id": f"evt_{SAMPLE_BODY}",
        "webhook-timestamp": "1795953600",
        "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    },
    "status_code": 204,
    "response_excerpt": "",
    "latency_ms": 42,
    "error": None,
    "next_attempt_at": None,
    "created_at": CREATED_AT,
}
SECRET_SAMPLE: Final = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 (an example)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def schemas() -> dict[str, Any]:
    create = webhooks.CREATE_WEBHOOK.json_schema()
    create["properties"]["event_types"]["items"]["enum"] = list(EVENT_TYPES)
    update = webhooks.UPDATE_WEBHOOK.json_schema()
    update["properties"]["event_types"] = create["properties"]["event_types"]
    string = {"type": "string"}
    webhook: dict[str, Any] = {
        "type": "object",
        "properties": {
            "object": {"const": "webhook"},
            "id": {"type": "string", "pattern": f"^wh_{ID_BODY}$"},
            "account_id": {"type": "string", "pattern": f"^acct_{ID_BODY}$"},
            "url": string,
            "description": string,
            "event_types": {"type": "array", "items": string},
            "issuer_ids": {"type": "array", "items": string},
            "status": {"type": "string", "enum": list(STATUSES)},
            "disabled_reason": _nullable(string),
            "previous_secret_expires_at": _nullable({"type": "string", "format": "date-time"}),
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    }
    webhook["required"] = sorted(webhook["properties"])
    with_secret = {
        **webhook,
        "properties": {
            **webhook["properties"],
            "secret": {"type": "string", "description": "Shown once: store it now."},
        },
        "required": [*webhook["required"], "secret"],
    }
    delivery: dict[str, Any] = {
        "type": "object",
        "properties": {
            "object": {"const": "delivery"},
            "id": {"type": "string", "pattern": f"^dlv_{ID_BODY}$"},
            "webhook_id": string,
            "event_id": string,
            "event_type": string,
            "issuer_id": _nullable(string),
            "trigger": {"type": "string", "enum": list(TRIGGERS)},
            "attempt": {"type": "integer", "minimum": 1},
            "outcome": {"type": "string", "enum": list(OUTCOMES)},
            "url": string,
            "request_headers": {"type": "object", "additionalProperties": string},
            "status_code": _nullable({"type": "integer"}),
            "response_excerpt": _nullable(string),
            "latency_ms": {"type": "integer", "minimum": 0},
            "error": _nullable(string),
            "next_attempt_at": _nullable({"type": "string", "format": "date-time"}),
            "created_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    }
    delivery["required"] = sorted(delivery["properties"])
    queued = {
        "type": "object",
        "properties": {
            "object": {"enum": ["redelivery", "replay"]},
            "webhook_id": string,
            "event_id": string,
            "since": string,
            "until": string,
            "queued": {"type": "integer", "minimum": 0},
        },
        "required": ["object", "webhook_id", "queued"],
    }
    return {
        "WebhookCreate": create,
        "WebhookUpdate": update,
        webhooks.ROTATE_SECRET.name: webhooks.ROTATE_SECRET.json_schema(),
        "Webhook": webhook,
        "WebhookWithSecret": with_secret,
        "WebhookList": list_of(_ref("Webhook")),
        "Delivery": delivery,
        "DeliveryList": list_of(_ref("Delivery")),
        deliveries.REDELIVER.name: deliveries.REDELIVER.json_schema(),
        deliveries.REPLAY.name: deliveries.REPLAY.json_schema(),
        "DeliveriesQueued": queued,
        "CloudEvent": _cloudevent_schema(),
        **DATA_SCHEMAS,
    }


def _cloudevent_schema() -> dict[str, Any]:
    string = {"type": "string"}
    return {
        "type": "object",
        "description": "CloudEvents 1.0, JSON event format (structured mode).",
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "pattern": f"^evt_{ID_BODY}$"},
            "source": {"type": "string", "format": "uri"},
            "type": string,
            "subject": string,
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "actor": {
                "type": "string",
                "description": "Who caused the event: an API key, user, agent or client id,"
                " or `system`/`operator`.",
            },
            "actortype": {
                "enum": ["api_key", "user", "agent", "client", "personal_token", "system"]
            },
            "data": {"type": "object"},
        },
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "actor",
            "actortype",
            "data",
        ],
    }


def webhooks_section() -> dict[str, Any]:
    """OpenAPI 3.1 `webhooks`: what AuthPI POSTs to a subscription, per event type."""
    return {entry.type: {"post": _delivery_operation(entry)} for entry in EVENT_TYPES.values()}


def _delivery_operation(entry: EventType) -> dict[str, Any]:
    where = {
        "issuer": "Written to the issuer's shard; delivered from its home region.",
        "account": "Written to the directory; delivered from the primary region.",
    }.get(entry.level, "Account keys: from the directory; organization keys: from the issuer.")
    header = "Standard Webhooks: "
    return {
        "operationId": f"event.{entry.type}",
        "summary": entry.type,
        "description": f"{entry.summary} {where}",
        "tags": ["Events"],
        "parameters": [
            {
                "name": "webhook-id",
                "in": "header",
                "required": True,
                "description": header + "the event id, the same on every attempt.",
                "schema": {"type": "string"},
            },
            {
                "name": "webhook-timestamp",
                "in": "header",
                "required": True,
                "description": header + "Unix seconds of this attempt.",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            },
            {
                "name": "webhook-signature",
                "in": "header",
                "required": True,
                "description": header + "`v1,<base64 HMAC-SHA256>` per signing secret,"
                " space-separated.",
                "schema": {"type": "string"},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/cloudevents+json": {
                    "schema": {
                        "allOf": [
                            _ref("CloudEvent"),
                            {
                                "properties": {
                                    "type": {"const": entry.type},
                                    "data": _ref(entry.data),
                                }
                            },
                        ]
                    }
                }
            },
        },
        "responses": {
            "2XX": {"description": "Received. Any other answer, or none in 10 s, is retried."}
        },
    }


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [*_subscription_operations(), *_delivery_operations(), _account_events()]


def _subscription_operations() -> list[tuple[str, str, dict[str, Any]]]:
    ref = _ref("Webhook")
    created = {**WEBHOOK_SAMPLE, "secret": SECRET_SAMPLE}
    collection, item = webhooks.COLLECTION, webhooks.ITEM
    tag = "Webhooks"
    return [
        (
            collection,
            "post",
            _operation(
                "createWebhook",
                "Create a webhook subscription",
                "Requires `webhooks:write`. The URL must be https and resolve to public"
                " addresses only; `event_types` come from the catalogue. The signing secret is"
                " shown once.",
                tag,
                collection,
                {"201": json("Created.", _ref("WebhookWithSecret"), created, etag=True)},
                (*WRITE_ERRORS, "409"),
                extra=[idempotency_parameter()],
                request=body(webhooks.CREATE_WEBHOOK),
            ),
        ),
        (
            collection,
            "get",
            _operation(
                "listWebhooks",
                "List webhook subscriptions",
                "Requires `webhooks:read`.",
                tag,
                collection,
                {
                    "200": json(
                        "A page.",
                        _ref("WebhookList"),
                        {"object": "list", "data": [WEBHOOK_SAMPLE], "next_cursor": None},
                    )
                },
                (*READ_ERRORS, "400", "422"),
                extra=list_parameters(("status",), enums={"status": STATUSES}),
            ),
        ),
        (
            item,
            "get",
            _operation(
                "getWebhook",
                "Get a webhook subscription",
                "Requires `webhooks:read`.",
                tag,
                item,
                {
                    "200": json("The subscription.", ref, WEBHOOK_SAMPLE, etag=True),
                    "304": {"description": "Not modified."},
                },
                READ_ERRORS,
                extra=[conditional("If-None-Match", "Answer 304 if this ETag is current.")],
            ),
        ),
        (
            item,
            "patch",
            _operation(
                "updateWebhook",
                "Update a webhook subscription",
                "Requires `webhooks:write`. Enabling a disabled subscription resumes its"
                " deliveries where they stopped.",
                tag,
                item,
                {"200": json("Updated.", ref, WEBHOOK_SAMPLE, etag=True)},
                (*WRITE_ERRORS, "412"),
                extra=[if_match()],
                request=body(webhooks.UPDATE_WEBHOOK),
            ),
        ),
        (
            item,
            "delete",
            _operation(
                "deleteWebhook",
                "Delete a webhook subscription",
                "Requires `webhooks:write`. Nothing more is delivered to it.",
                tag,
                item,
                {"204": {"description": "Deleted."}},
                (*READ_ERRORS, "400", "412"),
                extra=[if_match()],
            ),
        ),
        (
            webhooks.ROTATE,
            "post",
            _operation(
                "rotateWebhookSecret",
                "Rotate a webhook's signing secret",
                "Requires `webhooks:write`. The new secret is shown once; the previous one"
                " keeps signing beside it for `overlap_seconds` (default a day), so every"
                " delivery then carries both signatures.",
                tag,
                webhooks.ROTATE,
                {
                    "200": json(
                        "Rotated.",
                        _ref("WebhookWithSecret"),
                        {
                            **created,
                            "previous_secret_expires_at": "2026-11-30T12:00:00.000Z",
                        },
                        etag=True,
                    )
                },
                (*WRITE_ERRORS, "412"),
                extra=[idempotency_parameter(), if_match()],
                request={**body(webhooks.ROTATE_SECRET), "required": False},
            ),
        ),
    ]


def _delivery_operations() -> list[tuple[str, str, dict[str, Any]]]:
    described = []
    for level, item, note in (
        (
            "Account",
            deliveries.ACCOUNT_ITEM,
            "Account-level events (the directory's), answered in the primary region.",
        ),
        (
            "Issuer",
            deliveries.ISSUER_ITEM,
            "The issuer's events, answered in its home region.",
        ),
    ):
        listed = {"object": "list", "data": [DELIVERY_SAMPLE], "next_cursor": None}
        queued = {
            "object": "redelivery",
            "webhook_id": f"wh_{SAMPLE_BODY}",
            "event_id": f"evt_{SAMPLE_BODY}",
            "queued": 1,
        }
        replayed = {
            "object": "replay",
            "webhook_id": f"wh_{SAMPLE_BODY}",
            "since": CREATED_AT,
            "until": "2026-11-29T13:00:00.000Z",
            "queued": 12,
        }
        described += [
            (
                f"{item}/deliveries",
                "get",
                _operation(
                    f"list{level}Deliveries",
                    f"List deliveries ({level.lower()} events)",
                    f"Requires `webhooks:read`. Every attempt, oldest first. {note}",
                    "Webhooks",
                    f"{item}/deliveries",
                    {"200": json("A page.", _ref("DeliveryList"), listed)},
                    (*READ_ERRORS, "400", "422"),
                    extra=list_parameters(
                        ("event_id", "outcome"),
                        rf"^dlv_{ID_BODY}$",
                        enums={"outcome": OUTCOMES},
                    ),
                ),
            ),
            (
                f"{item}/redeliver",
                "post",
                _operation(
                    f"redeliver{level}Event",
                    f"Deliver one event again ({level.lower()} events)",
                    "Requires `webhooks:write`. Queued beside the subscription's stream and"
                    f" retried like any delivery. {note}",
                    "Webhooks",
                    f"{item}/redeliver",
                    {"202": json("Queued.", _ref("DeliveriesQueued"), queued)},
                    (*WRITE_ERRORS, "409"),
                    extra=[idempotency_parameter()],
                    request=body(deliveries.REDELIVER),
                ),
            ),
            (
                f"{item}/replay",
                "post",
                _operation(
                    f"replay{level}Events",
                    f"Deliver a time range again ({level.lower()} events)",
                    "Requires `webhooks:write`. Every event of the range the subscription"
                    f" wants, at most {deliveries.MAX_REPLAY}. {note}",
                    "Webhooks",
                    f"{item}/replay",
                    {"202": json("Queued.", _ref("DeliveriesQueued"), replayed)},
                    (*WRITE_ERRORS, "409"),
                    extra=[idempotency_parameter()],
                    request=body(deliveries.REPLAY),
                ),
            ),
        ]
    return described


def _account_events() -> tuple[str, str, dict[str, Any]]:
    path = "/v1/accounts/{account_id}/events"
    sample = {
        "object": "list",
        "data": [
            {
                "object": "event",
                "id": f"evt_{SAMPLE_BODY}",
                "type": "webhook.created",
                "subject": f"wh_{SAMPLE_BODY}",
                "time": CREATED_AT,
                "actor": f"key_{SAMPLE_BODY}",
                "actor_type": "api_key",
                "issuer_id": None,
                "data": {"id": f"wh_{SAMPLE_BODY}"},
            }
        ],
        "next_cursor": None,
    }
    return (
        path,
        "get",
        _operation(
            "listAccountEvents",
            "List account events",
            "Requires `events:read`. The account-level events (account, account API keys,"
            " issuer placement and deletion, webhooks) in commit order, at the primary.",
            "Events",
            path,
            {"200": json("A page.", _ref("EventList"), sample)},
            (*READ_ERRORS, "422"),
            extra=list_parameters(("type", "subject"), SEQUENCE_CURSOR.pattern),
        ),
    )
