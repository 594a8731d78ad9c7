"""Core API: webhook subscriptions, `/v1/accounts/{account_id}/webhooks[/{webhook_id}]`.

Subscriptions are account-level and live in the directory, so these calls are answered at
the primary region (other nodes authenticate the caller, then replay). Scopes
`webhooks:read` and `webhooks:write`.

- `url`: https, to a host that resolves to public addresses only (SSRF); checked again
  before every delivery. Deployments that allow private addresses (local development)
  also take plain http.
- `event_types`: exact types from the catalogue (`api.core.catalogue`), at least one.
- `issuer_ids`: optional; only those issuers' events (and no account-level events).
- The signing secret is shown once, at creation and at each rotation
  (`POST .../rotate_secret`, with `overlap_seconds` during which the previous secret still
  signs beside the new one: every delivery then carries both signatures).
- `status`: enabled or disabled. AuthPI disables a subscription whose deliveries failed for
  a day (`disabled_reason` says so); enabling it again resumes where it stopped.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.body import parse_json_object, read_json_body, read_optional_json_object
from api.core import conventions
from api.core.access import primary_principal
from api.core.catalogue import EVENT_TYPES
from api.json import json_response
from api.problems import (
    FieldError,
    NotFoundProblem,
    ServiceUnavailable,
    TooManyWebhooksProblem,
    ValidationFailed,
)
from api.schema import Integer, List, Schema, String
from runtime.node import Node
from runtime.webhooks.outbound import DestinationRefused, check_destination
from shards.clock import rfc3339
from shards.directory import Directory
from shards.errors import NotFound, StorageError
from shards.idempotency import StoredResponse
from shards.ids import is_id
from shards.resources import VersionMismatch
from shards.webhooks import (
    STATUSES,
    TooManyWebhooks,
    Webhook,
    previous_secret_expires_at,
)

COLLECTION: Final = "/v1/accounts/{account_id}/webhooks"
ITEM: Final = COLLECTION + "/{webhook_id}"
ROTATE: Final = ITEM + "/rotate_secret"
DEFAULT_OVERLAP: Final = timedelta(hours=24)  # a day for receivers to deploy the new secret
MAX_OVERLAP_SECONDS: Final = 7 * 86_400

EVENT_TYPE: Final = String(
    "An event type from the catalogue.", enum=tuple(sorted(EVENT_TYPES)), example="user.created"
)
CREATE_WEBHOOK: Final = Schema(
    "WebhookCreate",
    {
        "url": String(
            "Where deliveries are POSTed: https, to a public address.",
            max_length=2000,
            format="http-uri",
            example="https://hooks.example.com/authpi",
        ),
        "event_types": List(
            EVENT_TYPE, "The exact event types to deliver.", max_items=100, min_items=1
        ),
        "issuer_ids": List(
            String("An issuer of the account.", max_length=40, format="issuer-id"),
            "Only these issuers' events; empty or absent: every issuer's and the account's.",
            max_items=100,
        ),
        "description": String("What the subscription is for.", max_length=500),
        "status": String("enabled, or disabled: nothing is delivered.", enum=STATUSES),
    },
    required=frozenset({"url", "event_types"}),
    not_null=frozenset({"status"}),
)
UPDATE_WEBHOOK: Final = CREATE_WEBHOOK.partial("WebhookUpdate")
ROTATE_SECRET: Final = Schema(
    "WebhookSecretRotation",
    {
        "overlap_seconds": Integer(
            "How long the previous secret keeps signing beside the new one (default a day).",
            minimum=0,
            maximum=MAX_OVERLAP_SECONDS,
            example=86_400,
        )
    },
)


def represent(node: Node, webhook: Webhook, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object": "webhook",
        "id": webhook.id,
        "account_id": webhook.account_id,
        **webhook.fields(),
        "disabled_reason": webhook.disabled_reason,
        "previous_secret_expires_at": previous_secret_expires_at(
            node.sealer, webhook, rfc3339(node.clock.now())
        ),
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    }
    if secret is not None:
        body["secret"] = secret
    return body


def webhook_id(request: Request) -> str:
    value: str = request.path_params["webhook_id"]
    if not is_id(value, "wh"):
        raise NotFoundProblem(f"webhook {value} not found")
    return value


async def _check(node: Node, directory: Directory, account_id: str, fields: dict[str, Any]) -> None:
    """What the schema cannot say: the account's issuers, and a URL safe to send to."""
    errors: list[FieldError] = []
    if fields.get("issuer_ids"):
        own = {placement.issuer_id for placement in await directory.placements(account_id)}
        strangers = [issuer for issuer in fields["issuer_ids"] if issuer not in own]
        if strangers:  # like any id that names nothing here
            raise NotFoundProblem(f"not issuers of this account: {', '.join(strangers)}")
    if "url" in fields:
        try:
            await check_destination(
                fields["url"], allow_private=node.settings.webhooks_allow_private
            )
        except DestinationRefused as exc:
            errors.append({"field": "url", "message": str(exc)})
    if errors:
        raise ValidationFailed(errors)


async def create_webhook(request: Request) -> Response:
    node, directory, principal = await primary_principal(request, "webhooks:write")
    idempotency_key = conventions.idempotency_key(request)
    raw = await read_json_body(request)
    fields = CREATE_WEBHOOK.validate(parse_json_object(raw))
    await _check(node, directory, principal.account_id, fields)
    scope = f"{principal.key_id}:{principal.account_id}"
    fingerprint = conventions.fingerprint("POST", request.url.path, raw)
    try:
        async with directory.database.transaction() as tx:
            earlier = await conventions.earlier_reply(
                directory.idempotency, tx, scope, idempotency_key, fingerprint
            )
            if earlier is not None:
                return earlier
            webhook, secret = await directory.webhooks.insert(
                tx, node.sealer, principal.account_id, fields, actor=principal.key_id
            )
            headers = {
                "ETag": conventions.etag(webhook.version),
                "Location": f"{request.url.path}/{webhook.id}",
            }
            if idempotency_key is not None:  # the secret is shown once: never stored
                await directory.idempotency.store(
                    tx,
                    scope,
                    idempotency_key,
                    StoredResponse(
                        fingerprint, 201, headers, orjson.dumps(represent(node, webhook))
                    ),
                )
    except TooManyWebhooks as exc:
        raise TooManyWebhooksProblem(str(exc)) from exc
    except StorageError as exc:
        raise ServiceUnavailable("the webhook could not be stored; retry") from exc
    await node.refresh_replica()
    return json_response(represent(node, webhook, secret), status_code=201, headers=headers)


async def list_webhooks(request: Request) -> Response:
    node, directory, principal = await primary_principal(request, "webhooks:read")
    query = conventions.list_query(request.query_params, ("status",), enums={"status": STATUSES})
    page = await directory.webhooks.page(
        principal.account_id,
        after=query.after,
        limit=query.limit + 1,
        status=query.filters.get("status"),
    )
    return conventions.page_response(page, query.limit, lambda webhook: represent(node, webhook))


async def find(directory: Directory, account_id: str, identifier: str) -> Webhook:
    try:
        return await directory.webhooks.find(None, account_id, identifier)
    except NotFound:
        raise NotFoundProblem(f"webhook {identifier} not found") from None


async def get_webhook(request: Request) -> Response:
    node, directory, principal = await primary_principal(request, "webhooks:read")
    webhook = await find(directory, principal.account_id, webhook_id(request))
    tag = conventions.etag(webhook.version)
    if conventions.not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return json_response(represent(node, webhook), headers={"ETag": tag})


async def update_webhook(request: Request) -> Response:
    node, directory, principal = await primary_principal(request, "webhooks:write")
    identifier = webhook_id(request)
    fields = UPDATE_WEBHOOK.validate(parse_json_object(await read_json_body(request)))
    await _check(node, directory, principal.account_id, fields)
    expected = conventions.expected_version(request)
    try:
        async with directory.database.transaction() as tx:
            try:
                webhook = await directory.webhooks.find(tx, principal.account_id, identifier)
            except NotFound:
                raise NotFoundProblem(f"webhook {identifier} not found") from None
            updated = await directory.webhooks.update(
                tx, webhook, fields, expected_version=expected, actor=principal.key_id
            )
    except VersionMismatch as exc:
        raise conventions.stale(exc) from exc
    if updated is not webhook:
        await node.refresh_replica()
    return json_response(
        represent(node, updated), headers={"ETag": conventions.etag(updated.version)}
    )


async def delete_webhook(request: Request) -> Response:
    node, directory, principal = await primary_principal(request, "webhooks:write")
    identifier = webhook_id(request)
    expected = conventions.expected_version(request)
    try:
        async with directory.database.transaction() as tx:
            try:
                webhook = await directory.webhooks.find(tx, principal.account_id, identifier)
            except NotFound:
                raise NotFoundProblem(f"webhook {identifier} not found") from None
            await directory.webhooks.delete(
                tx, webhook, expected_version=expected, actor=principal.key_id
            )
    except VersionMismatch as exc:
        raise conventions.stale(exc) from exc
    await node.refresh_replica()
    return Response(status_code=204)


async def rotate_secret(request: Request) -> Response:
    node, directory, principal = await primary_principal(request, "webhooks:write")
    identifier = webhook_id(request)
    idempotency_key = conventions.idempotency_key(request)
    fields = ROTATE_SECRET.validate(await read_optional_json_object(request))
    seconds = fields.get("overlap_seconds")
    overlap = DEFAULT_OVERLAP if seconds is None else timedelta(seconds=seconds)
    expected = conventions.expected_version(request)
    scope = f"{principal.key_id}:{principal.account_id}"
    fingerprint = conventions.fingerprint(
        "POST", request.url.path, orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    )
    try:
        async with directory.database.transaction() as tx:
            earlier = await conventions.earlier_reply(
                directory.idempotency, tx, scope, idempotency_key, fingerprint
            )
            if earlier is not None:
                return earlier
            try:
                webhook = await directory.webhooks.find(tx, principal.account_id, identifier)
            except NotFound:
                raise NotFoundProblem(f"webhook {identifier} not found") from None
            rotated, secret = await directory.webhooks.rotate_secret(
                tx, node.sealer, webhook, overlap, expected_version=expected, actor=principal.key_id
            )
            headers = {"ETag": conventions.etag(rotated.version)}
            if idempotency_key is not None:
                await directory.idempotency.store(
                    tx,
                    scope,
                    idempotency_key,
                    StoredResponse(
                        fingerprint, 200, headers, orjson.dumps(represent(node, rotated))
                    ),
                )
    except VersionMismatch as exc:
        raise conventions.stale(exc) from exc
    await node.refresh_replica()
    return json_response(represent(node, rotated, secret), headers=headers)
