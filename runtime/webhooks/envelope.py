"""What a delivery sends: the event as a CloudEvent, signed the Standard Webhooks way.

The body is CloudEvents 1.0 in structured mode (JSON event format,
`application/cloudevents+json`): `specversion`, `id` (the event id, the same on every
attempt, so receivers drop duplicates by it), `source` (the issuer's URL, or the account's
Core API URL for account-level events), `type`, `subject`, `time`, `datacontenttype`,
`data`, and two extension attributes naming who caused the event: `actor` (an id, or
`system`) and `actortype`.

The headers follow Standard Webhooks: `webhook-id` (the event id), `webhook-timestamp`
(Unix seconds of this attempt) and `webhook-signature`: `v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">` for each secret that signs now, space-separated, so during a
secret rotation's overlap receivers holding either secret can verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import orjson

from shards.outbox import Event, actor_type
from shards.webhooks import SECRET_PREFIX

SPEC_VERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/cloudevents+json; charset=utf-8"


def cloudevent(event: Event, source: str) -> dict[str, Any]:
    return {
        "specversion": SPEC_VERSION,
        "id": event.id,
        "source": source,
        "type": event.type,
        "subject": event.subject,
        "time": event.time,
        "datacontenttype": "application/json",
        "actor": event.actor,
        "actortype": actor_type(event.actor),
        "data": event.data,
    }


def source(public_url: str, account_id: str, issuer_id: str | None) -> str:
    """The issuer's URL for its events; the account's for account-level ones."""
    if issuer_id is not None:
        return f"{public_url}/{issuer_id}"
    return f"{public_url}/v1/accounts/{account_id}"


def body(event: Event, source: str) -> bytes:
    return orjson.dumps(cloudevent(event, source))


def signature(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,` signature per secret."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
        for secret in secrets
    )


def headers(secrets: Sequence[str], event_id: str, at: datetime, body: bytes) -> dict[str, str]:
    timestamp = int(at.timestamp())
    return {
        "Content-Type": CONTENT_TYPE,
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secrets, event_id, timestamp, body),
    }


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
