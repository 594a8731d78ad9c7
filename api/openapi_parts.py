"""The building blocks of the OpenAPI document: parameters, bodies, responses, examples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from api.core.conventions import ETAG_PATTERN, ID_CURSOR
from api.core.kinds import KINDS
from api.schema import Schema

ID_BODY: Final = "[0-9a-hjkmnp-tv-z]{26}"
SAMPLE_BODY: Final = "01jd8k2v6m4q9x7c3n5b8r2t0w"
PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}
PREFIX_OF_PARAM: Final = {
    "account_id": "acct",
    "issuer_id": "i",
    "api_key_id": "key",
    "webhook_id": "wh",
    **{f"{kind.name}_id": kind.prefix for kind in KINDS},
}
# Response headers a client relies on, each always sent where it is listed.
ETAG_HEADER: Final = {
    "description": "The resource's version, for `If-Match` and `If-None-Match`.",
    "required": True,
    "schema": {"type": "string", "pattern": r'^"[0-9]{1,18}"$'},
}
LOCATION_HEADER: Final = {
    "description": "The path of the new resource.",
    "required": True,
    "schema": {"type": "string", "pattern": "^/v1/accounts/"},
}
REPLAYED_HEADER: Final = {
    "description": "Sent when an `Idempotency-Key` replays the first response.",
    "required": False,
    "schema": {"const": "true"},
}
NO_STORE_HEADER: Final = {
    "description": "Errors are never cached.",
    "required": True,
    "schema": {"const": "no-store"},
}
PROBLEM_HEADERS: Final[dict[str, dict[str, Any]]] = {
    "401": {
        "WWW-Authenticate": {
            "description": "The scheme to authenticate with (RFC 6750).",
            "required": True,
            "schema": {"const": 'Bearer realm="authpi"'},
        }
    },
    "412": {"ETag": {**ETAG_HEADER, "description": "The current version."}},
    "503": {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}
# One shared response per error status (`#/components/responses/<name>`).
ERRORS: Final = {
    "400": (
        "BadRequest",
        "The body is not JSON, a header is malformed, or a filter has an unknown value.",
    ),
    "401": ("Unauthenticated", "No API key, or one that is not valid."),
    "403": ("Forbidden", "The key may not do this: account, scope, organization or address."),
    "404": ("NotFound", "No such resource, or not visible to this key."),
    "409": ("Conflict", "A uniqueness rule, a limit or the resource's state refuses it."),
    "412": ("PreconditionFailed", "`If-Match` names a version that is no longer current."),
    "413": ("PayloadTooLarge", "The body is over 64 KiB."),
    "415": ("UnsupportedMediaType", "The body is not application/json."),
    "422": ("ValidationFailed", "Invalid fields; `errors` lists each one."),
    "503": ("ServiceUnavailable", "Storage or a peer is unavailable; retry after `Retry-After`."),
}


def path_parameters(path: str) -> list[dict[str, Any]]:
    parameters = []
    for part in path.split("/"):
        if part.startswith("{"):
            name = part.strip("{}")
            prefix = PREFIX_OF_PARAM[name]
            parameters.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": f"^{prefix}_{ID_BODY}$"},
                    "example": f"{prefix}_{SAMPLE_BODY}",
                }
            )
    return parameters


def list_parameters(
    filters: tuple[str, ...],
    cursor_pattern: str = ID_CURSOR.pattern,
    *,
    enums: Mapping[str, tuple[str, ...]] | None = None,
) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        },
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "The `next_cursor` of the previous page (opaque).",
            "schema": {"type": "string", "pattern": cursor_pattern},
        },
    ]
    for name in filters:
        schema: dict[str, Any] = {"type": "string"}
        if enums and name in enums:
            schema["enum"] = list(enums[name])
        parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
    return parameters


def conditional(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


def if_match() -> dict[str, Any]:
    return {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": "Refuse with 412 unless this ETag is current (`*`: any version; an"
        " empty value names none, so it is always refused).",
        "schema": {"type": "string", "pattern": rf"^(\*|{ETAG_PATTERN[1:-1]})?$"},
    }


def body(schema: Schema) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{schema.name}"},
                "example": request_example(schema),
            }
        },
    }


def json(
    description: str,
    schema: dict[str, Any],
    example: Any,
    *,
    etag: bool = False,
    headers: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    }
    listed = {**({"ETag": ETAG_HEADER} if etag else {}), **(headers or {})}
    if listed:
        response["headers"] = listed
    return response


def problem_response(status: str) -> dict[str, Any]:
    if status in ERRORS:
        return {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    return {  # a status only one operation answers: described where it is used
        "description": "See the problem document.",
        "headers": {"Cache-Control": NO_STORE_HEADER},
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }


def problem_responses() -> dict[str, Any]:
    """One response per error status, with the headers that always come with it."""
    return {
        name: {
            "description": description,
            "headers": {"Cache-Control": NO_STORE_HEADER, **PROBLEM_HEADERS.get(status, {})},
            "content": {"application/problem+json": {"schema": PROBLEM_REF}},
        }
        for status, (name, description) in ERRORS.items()
    }


def request_example(schema: Schema) -> dict[str, Any]:
    example: dict[str, Any] = {}
    for name, field in schema.fields.items():
        field_schema = field.json_schema()
        if "examples" in field_schema:
            example[name] = field_schema["examples"][0]
        elif "enum" in field_schema:
            example[name] = field_schema["enum"][0]
        elif name in schema.required and field_schema.get("type") == "string":
            example[name] = "Example"
    return example


def list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": item},
            "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["object", "data", "next_cursor"],
        "additionalProperties": False,
    }


def idempotency_parameter() -> dict[str, Any]:
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Retry safely: the same key and body replay the first response.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    }
