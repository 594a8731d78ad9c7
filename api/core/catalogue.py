"""The event catalogue: every event type AuthPI emits, where it is written, and the JSON
Schema of its `data`. Subscriptions may name only these types; the OpenAPI document lists
each one in its `webhooks` section, and `docs/events.md` describes them.

Data schemas admit more properties than they list: events may gain fields, never lose them.
`session.*` types are reserved (sessions are not built yet): they can be subscribed to and
are documented, but nothing emits them yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from api.core.kinds import INVITATION, KINDS, ORG_API_KEY, STATUS_EVENTS, Kind
from shards.issuers import SIGNING_ALGS

ISSUER: Final = "issuer"  # written to the issuer's shard, delivered from its home region
ACCOUNT: Final = "account"  # written to the directory, delivered from the primary region
BOTH: Final = "account or issuer"  # api_key.*: account keys (directory), org keys (shard)
ID: Final = "[0-9a-hjkmnp-tv-z]{26}"
TIME: Final = {"type": "string", "format": "date-time"}
CHANGED: Final = {
    "type": "array",
    "items": {"type": "string"},
    "description": "The names of the fields that changed.",
}


@dataclass(frozen=True, slots=True)
class EventType:
    type: str
    summary: str
    level: str  # ISSUER, ACCOUNT or BOTH
    data: str  # the name of its data schema in `DATA_SCHEMAS`
    emitted: bool = True


def _id(prefix: str) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^{prefix}_{ID}$"}


def _object(properties: dict[str, Any], required: list[str], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


def _kind_prefixes(kind: Kind) -> list[str]:
    """The event prefixes of a kind: a verifier's depends on what it verifies."""
    if kind.name == "verifier":
        return [f"{kind.parent}.verifier"]
    if kind is ORG_API_KEY:
        return []  # api_key.* is listed once, for account and organization keys
    return [{"group_member": "group.member"}.get(kind.name, kind.name)]


def _kind_data(kind: Kind) -> dict[str, Any]:
    properties: dict[str, Any] = {"id": _id(kind.prefix)}
    if kind.parent is not None:
        parent = next(k for k in KINDS if k.name == kind.parent)
        properties["parent_id"] = _id(parent.prefix)
    for name, field in kind.create.fields.items():
        properties[name] = field.json_schema()
    for name, values in kind.read_only.items():
        properties[name] = {"type": "string", "enum": list(values)}
    if kind is INVITATION:
        properties |= {"accepted_at": TIME, "revoked_at": TIME, "user_id": _id("usr")}
        properties["membership_id"] = _id("mem")
    required = ["id", *(["parent_id"] if kind.parent else []), *sorted(kind.create.required)]
    return _object(
        properties,
        required,
        f"The {kind.title.lower()} as stored: never a secret, nor a secret's digest.",
    )


def _schema_name(kind: Kind) -> str:
    return "".join(word[0].upper() + word[1:] for word in kind.title.split()) + "EventData"


def _graph() -> tuple[list[EventType], dict[str, dict[str, Any]]]:
    types: list[EventType] = []
    schemas: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        name = _schema_name(kind)
        schemas[name] = _kind_data(kind)
        updated = dict(schemas[name])
        updated["properties"] = {**updated["properties"], "changed": CHANGED}
        updated["required"] = [*updated["required"], "changed"]
        schemas[name.replace("EventData", "UpdatedEventData")] = updated
        for prefix in _kind_prefixes(kind):
            noun = kind.title.lower()
            verbs = ["created", "deleted", *(["updated"] if kind.updatable else [])]
            for verb in verbs:
                data = name.replace("EventData", "UpdatedEventData") if verb == "updated" else name
                types.append(EventType(f"{prefix}.{verb}", f"A {noun} is {verb}.", ISSUER, data))
    for (kind_name, _status), type_name in STATUS_EVENTS.items():
        kind = next(k for k in KINDS if k.name == kind_name)
        what = type_name.split(".")[1]
        types.append(
            EventType(type_name, f"A {kind.title.lower()} is {what}.", ISSUER, _schema_name(kind))
        )
    invitation = _schema_name(INVITATION)
    types += [
        EventType(
            "invitation.accepted",
            "An invitation is accepted; its membership.created commits just before, in the"
            " same transaction.",
            ISSUER,
            invitation,
        ),
        EventType("invitation.revoked", "An invitation is revoked.", ISSUER, invitation),
    ]
    return types, schemas


def _placement(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {
        "id": _id("i"),
        "jurisdiction": {"type": "string"},
        "home_region": {"type": "string"},
        "shard_id": _id("shd"),
        "epoch": {"type": "integer", "minimum": 1},
        **(extra or {}),
    }
    return _object(properties, sorted(properties), "Where the issuer lives.")


def _webhook(extra: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    properties = {
        "id": _id("wh"),
        "url": {"type": "string", "format": "uri"},
        "description": {"type": "string"},
        "event_types": {"type": "array", "items": {"type": "string"}},
        "issuer_ids": {"type": "array", "items": _id("i")},
        "status": {"type": "string", "enum": ["enabled", "disabled"]},
        **(extra or {}),
    }
    return _object(
        properties,
        ["id", "url", "event_types", "issuer_ids", "status", *required],
        "The subscription: never its secret.",
    )


def _issuer(extra: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    properties = {
        "id": _id("i"),
        "name": {"type": "string"},
        "status": {"type": "string", "enum": ["active", "disabled"]},
        "settings": {"type": "object"},
        **(extra or {}),
    }
    return _object(properties, ["id", "name", "status", "settings", *required], "The issuer.")


_ACCOUNT_KEY: Final = _object(
    {
        "id": _id("key"),
        "account_id": _id("acct"),
        "name": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string"}},
        "ip_allowlist": {"type": "array", "items": {"type": "string"}},
        "expires_at": {"anyOf": [TIME, {"type": "null"}]},
        "status": {"type": "string", "enum": ["active", "revoked"]},
        "changed": CHANGED,
    },
    ["id", "account_id"],
    "An account API key (never its secret); `changed` in `api_key.updated`.",
)

OTHER_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "AccountEventData": _object(
        {"id": _id("acct"), "name": {"type": "string"}}, ["id", "name"], "The account."
    ),
    "ApiKeyEventData": {
        "description": "An account API key (in the directory, with `account_id`) or an"
        " organization API key (in the issuer's shard, with `parent_id`: its organization).",
        "anyOf": [_ACCOUNT_KEY, {"$ref": f"#/components/schemas/{_schema_name(ORG_API_KEY)}"}],
    },
    "IssuerPlacedEventData": _placement(),
    "IssuerDeletedEventData": _placement({"name": {"type": "string"}}),
    "IssuerCreatedEventData": _object(
        {
            "id": _id("i"),
            "name": {"type": "string"},
            "jurisdiction": {"type": "string"},
            "home_region": {"type": "string"},
        },
        ["id", "name", "jurisdiction", "home_region"],
        "The new issuer.",
    ),
    "IssuerEventData": _issuer(),
    "IssuerUpdatedEventData": _issuer({"changed": CHANGED}, ("changed",)),
    "SigningKeyCreatedEventData": _object(
        {
            "kid": {"type": "string"},
            "alg": {"type": "string", "enum": list(SIGNING_ALGS)},
            "activates_at": TIME,
        },
        ["kid", "alg", "activates_at"],
        "A signing key, published now, signing from `activates_at`.",
    ),
    "SigningKeyRotatedEventData": _object(
        {
            "kid": {"type": "string"},
            "alg": {"type": "string", "enum": list(SIGNING_ALGS)},
            "activates_at": TIME,
            "retires": {"type": "array", "items": {"type": "string"}},
            "retired_keys_expire_at": TIME,
            "immediate": {"type": "boolean"},
        },
        ["kid", "alg", "activates_at", "retires", "retired_keys_expire_at", "immediate"],
        "The successor key and the keys it retires.",
    ),
    "AccessTokenRevokedEventData": _object(
        {
            "jti": {"type": "string"},
            "client_id": {"type": "string"},
            "expires_at": {"type": "integer", "description": "Unix seconds."},
        },
        ["jti", "client_id", "expires_at"],
        "A revoked access token, by its `jti`: never the token.",
    ),
    "WebhookEventData": _webhook(),
    "WebhookUpdatedEventData": _webhook({"changed": CHANGED}, ("changed",)),
    "WebhookDisabledEventData": _webhook({"reason": {"type": "string"}}, ("reason",)),
    "WebhookSecretRotatedEventData": _object(
        {"id": _id("wh"), "previous_secret_expires_at": {"anyOf": [TIME, {"type": "null"}]}},
        ["id", "previous_secret_expires_at"],
        "Until when the previous secret still signs, beside the new one (null: not at all).",
    ),
    "SessionEventData": _object(
        {
            "id": _id("s"),
            "user_id": _id("usr"),
            "client_id": _id("c"),
            "reason": {"type": "string"},
        },
        ["id", "user_id"],
        "Reserved: sessions are not built yet.",
    ),
}

_OTHER_TYPES: Final = (
    EventType("account.created", "An account is created.", ACCOUNT, "AccountEventData"),
    EventType(
        "issuer.placed",
        "An issuer is placed on a shard, at creation or by an operator's move.",
        ACCOUNT,
        "IssuerPlacedEventData",
    ),
    EventType(
        "issuer.deleted",
        "An issuer is deleted: it leaves placement and its shard keeps nothing of it.",
        ACCOUNT,
        "IssuerDeletedEventData",
    ),
    EventType("issuer.created", "An issuer is created.", ISSUER, "IssuerCreatedEventData"),
    EventType(
        "issuer.updated",
        "An issuer's name, status or settings change (`settings.<name>` in `changed`).",
        ISSUER,
        "IssuerUpdatedEventData",
    ),
    EventType("issuer.disabled", "An issuer is disabled.", ISSUER, "IssuerEventData"),
    EventType("issuer.enabled", "An issuer is enabled again.", ISSUER, "IssuerEventData"),
    EventType(
        "signing_key.created",
        "An issuer gets a signing key for an algorithm it signs with.",
        ISSUER,
        "SigningKeyCreatedEventData",
    ),
    EventType(
        "signing_key.rotated",
        "An issuer's signing key is rotated.",
        ISSUER,
        "SigningKeyRotatedEventData",
    ),
    EventType(
        "access_token.revoked",
        "A client or agent revoked one of its access tokens (RFC 7009).",
        ISSUER,
        "AccessTokenRevokedEventData",
    ),
    EventType(
        "api_key.created",
        "An account API key (directory) or an organization API key (issuer) is created.",
        BOTH,
        "ApiKeyEventData",
    ),
    EventType(
        "api_key.updated",
        "An account API key (directory) or an organization API key (issuer) changes.",
        BOTH,
        "ApiKeyEventData",
    ),
    EventType(
        "api_key.revoked",
        "An account API key is revoked (directory).",
        ACCOUNT,
        "ApiKeyEventData",
    ),
    EventType(
        "api_key.deleted",
        "An organization API key is deleted (issuer).",
        ISSUER,
        "ApiKeyEventData",
    ),
    EventType("webhook.created", "A webhook subscription is created.", ACCOUNT, "WebhookEventData"),
    EventType("webhook.updated", "A subscription changes.", ACCOUNT, "WebhookUpdatedEventData"),
    EventType("webhook.deleted", "A subscription is deleted.", ACCOUNT, "WebhookEventData"),
    EventType("webhook.enabled", "A subscription is enabled.", ACCOUNT, "WebhookEventData"),
    EventType(
        "webhook.disabled",
        "A subscription is disabled: through the API, or by AuthPI after its deliveries"
        " failed for a day (`reason` says which, and why).",
        ACCOUNT,
        "WebhookDisabledEventData",
    ),
    EventType(
        "webhook.secret_rotated",
        "A subscription's signing secret is rotated.",
        ACCOUNT,
        "WebhookSecretRotatedEventData",
    ),
    *(
        EventType(
            f"session.{what}",
            f"Reserved, not emitted yet: {summary}",
            ISSUER,
            "SessionEventData",
            emitted=False,
        )
        for what, summary in (
            ("created", "a user signs in on a device."),
            ("revoked", "a session is ended by sign-out, an administrator or a timeout."),
            (
                "compromised",
                "a rotated refresh token was presented again; the session and every token"
                " issued to it are revoked.",
            ),
        )
    ),
)


def _catalogue() -> tuple[dict[str, EventType], dict[str, dict[str, Any]]]:
    graph_types, schemas = _graph()
    by_type = {entry.type: entry for entry in (*graph_types, *_OTHER_TYPES)}
    return dict(sorted(by_type.items())), {**schemas, **OTHER_SCHEMAS}


EVENT_TYPES, DATA_SCHEMAS = _catalogue()


def is_known(event_type: str) -> bool:
    return event_type in EVENT_TYPES
