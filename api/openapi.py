"""The OpenAPI 3.1 document, generated from the schemas that validate requests.

`python -m api.openapi` prints it; `docs/openapi.json` is the checked-in copy that a test keeps
in sync, and every node serves it at `/v1/openapi.json`.
"""

from __future__ import annotations

import sys
from typing import Any, Final

import orjson

from api.core import crud
from api.core.conventions import ETAG_PATTERN, ID_CURSOR, SEQUENCE_CURSOR
from api.core.crud import Operation
from api.core.issuers import CREATE_ISSUER
from api.core.kinds import KINDS, Kind
from api.schema import Schema

ID_BODY: Final = "[0-9a-hjkmnp-tv-z]{26}"
SAMPLE_BODY: Final = "01jd8k2v6m4q9x7c3n5b8r2t0w"
PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}
READ_ONLY_EXTRAS: Final[dict[str, dict[str, Any]]] = {
    "membership": {"member_type": {"type": "string", "enum": ["user", "agent"]}},
    "invitation": {"status": {"type": "string", "enum": ["pending", "accepted", "revoked"]}},
}
PREFIX_OF_PARAM: Final = {
    "account_id": "acct",
    "issuer_id": "i",
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
ERRORS: Final = {
    "400": ("BadRequest", "The body is not JSON, or a header is malformed."),
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


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for operation in crud.OPERATIONS:
        assert operation.kind is not None
        paths.setdefault(operation.path, {})[operation.method.lower()] = _kind_operation(
            operation, operation.kind
        )
    for path, method, description in _other_operations():
        paths.setdefault(path, {})[method] = description
    schemas: dict[str, Any] = {"Problem": _problem_schema(), "Event": _event_schema()}
    for kind in KINDS:
        ident = _ident(kind)
        schemas[kind.create.name] = kind.create.json_schema()
        if kind.updatable:
            schemas[kind.update.name] = kind.update.json_schema()
        schemas[ident] = _representation(kind)
        if kind.secret or kind.name == "verifier":
            schemas[f"{ident}Created"] = _with_secret(schemas[ident])
        schemas[f"{ident}List"] = _list_of({"$ref": f"#/components/schemas/{ident}"})
    schemas[CREATE_ISSUER.name] = CREATE_ISSUER.json_schema()
    schemas["Issuer"] = _issuer_schema()
    schemas["EventList"] = _list_of({"$ref": "#/components/schemas/Event"})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AuthPI Core API",
            "version": "1.0.0",
            "description": (
                "Manage AuthPI: issuers and the identity graph inside them. Authenticate with "
                "an API key: `Authorization: Bearer key_<id>.<secret>`. Lists use cursor "
                "pagination, creates take an `Idempotency-Key`, resources carry ETags, and "
                "errors are RFC 9457 problem details."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "responses": _problem_responses(),
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "key_<id>.<secret>"}
            },
        },
        "security": [{"apiKey": []}],
    }


def _kind_operation(operation: Operation, kind: Kind) -> dict[str, Any]:
    ident = _ident(kind)
    parameters = _path_parameters(operation.path)
    description: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "description": f"Requires the scope `{operation.scope}`.",
        "tags": [kind.title + "s"],
        "parameters": parameters,
    }
    ref = {"$ref": f"#/components/schemas/{ident}"}
    sample = _example(kind)
    errors = ["401", "403", "404", "503"]
    if operation.action == "create":
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Retry safely: the same key and body replay the first response.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
        description["requestBody"] = _body(kind.create)
        created = {**sample}
        if kind.secret or kind.name == "verifier":
            created["secret"] = f"{kind.prefix}_{SAMPLE_BODY}.s3cr3t-shown-once"
        shown = kind.secret or kind.name == "verifier"
        schema = {"$ref": f"#/components/schemas/{ident}Created"} if shown else ref
        description["responses"] = {
            "201": _json(
                "Created.",
                schema,
                created,
                headers={
                    "ETag": ETAG_HEADER,
                    "Location": LOCATION_HEADER,
                    "Idempotency-Replayed": REPLAYED_HEADER,
                },
            )
        }
        errors += ["400", "409", "413", "415", "422"]
    elif operation.action == "list":
        parameters += _list_parameters(kind.filters)
        listed = {"object": "list", "data": [sample], "next_cursor": None}
        description["responses"] = {
            "200": _json("A page.", {"$ref": f"#/components/schemas/{ident}List"}, listed)
        }
        errors.append("422")
    elif operation.action == "get":
        parameters.append(_conditional("If-None-Match", "Answer 304 if this ETag is current."))
        description["responses"] = {
            "200": _json("The resource.", ref, sample, headers={"ETag": ETAG_HEADER}),
            "304": {"description": "Not modified.", "headers": {"ETag": ETAG_HEADER}},
        }
    elif operation.action == "update":
        parameters.append(_if_match())
        description["requestBody"] = _body(kind.update)
        description["responses"] = {
            "200": _json("Updated.", ref, sample, headers={"ETag": ETAG_HEADER})
        }
        errors += ["400", "409", "412", "413", "415", "422"]
    else:
        errors += ["400"]
        parameters.append(_if_match())
        description["responses"] = {"204": {"description": "Deleted, with what depends on it."}}
        errors.append("412")
    for status in sorted(set(errors)):
        description["responses"][status] = _problem_response(status)
    return description


def _other_operations() -> list[tuple[str, str, dict[str, Any]]]:
    issuer_ref = {"$ref": "#/components/schemas/Issuer"}
    issuer_sample = {
        "object": "issuer",
        "id": f"i_{SAMPLE_BODY}",
        "account_id": f"acct_{SAMPLE_BODY}",
        "name": "Acme EU",
        "jurisdiction": "eu",
        "home_region": "fra",
        "issuer_url": f"https://id.example.com/i_{SAMPLE_BODY}",
        "created_at": "2026-11-29T12:00:00.000Z",
        "updated_at": "2026-11-29T12:00:00.000Z",
    }
    events_sample = {
        "object": "list",
        "data": [
            {
                "object": "event",
                "id": f"evt_{SAMPLE_BODY}",
                "type": "organization.created",
                "subject": f"org_{SAMPLE_BODY}",
                "time": "2026-11-29T12:00:00.000Z",
                "actor": f"key_{SAMPLE_BODY}",
                "issuer_id": f"i_{SAMPLE_BODY}",
                "data": {"id": f"org_{SAMPLE_BODY}", "name": "Acme"},
            }
        ],
        "next_cursor": None,
    }
    issuers = "/v1/accounts/{account_id}/issuers"
    problems = {s: _problem_response(s) for s in ("401", "403", "404", "503")}
    return [
        (
            issuers,
            "post",
            {
                "operationId": "createIssuer",
                "summary": "Create an issuer",
                "description": "Requires `issuers:write`. Placed in a region of its jurisdiction,"
                " nearest to the caller unless `home_region` is given.",
                "tags": ["Issuers"],
                "parameters": _path_parameters(issuers),
                "requestBody": _body(CREATE_ISSUER),
                "responses": {
                    "201": _json(
                        "Created.",
                        issuer_ref,
                        issuer_sample,
                        headers={"Location": LOCATION_HEADER},
                    ),
                    **problems,
                    **{s: _problem_response(s) for s in ("400", "409", "413", "415", "422")},
                },
            },
        ),
        (
            f"{issuers}/{{issuer_id}}",
            "get",
            {
                "operationId": "getIssuer",
                "summary": "Get an issuer",
                "description": "Requires `issuers:read`.",
                "tags": ["Issuers"],
                "parameters": _path_parameters(f"{issuers}/{{issuer_id}}"),
                "responses": {"200": _json("The issuer.", issuer_ref, issuer_sample), **problems},
            },
        ),
        (
            f"{crud.ISSUER_PATH}/events",
            "get",
            {
                "operationId": "listEvents",
                "summary": "List events",
                "description": "Requires `events:read`. The issuer's events in commit order.",
                "tags": ["Events"],
                "parameters": [
                    *_path_parameters(crud.ISSUER_PATH),
                    *_list_parameters(("type", "subject"), SEQUENCE_CURSOR.pattern),
                ],
                "responses": {
                    "200": _json(
                        "A page.", {"$ref": "#/components/schemas/EventList"}, events_sample
                    ),
                    **problems,
                    "422": _problem_response("422"),
                },
            },
        ),
    ]


def _ident(kind: Kind) -> str:
    return "".join(a.title.replace(" ", "") for a in crud.ancestry(kind)) + kind.title.replace(
        " ", ""
    )


def _path_parameters(path: str) -> list[dict[str, Any]]:
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


def _list_parameters(
    filters: tuple[str, ...], cursor_pattern: str = ID_CURSOR.pattern
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
        parameters.append(
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        )
    return parameters


def _conditional(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


def _if_match() -> dict[str, Any]:
    return {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": "Refuse with 412 unless this ETag is current (`*`: any version).",
        "schema": {"type": "string", "pattern": rf"^(\*|{ETAG_PATTERN[1:-1]})$"},
    }


def _body(schema: Schema) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{schema.name}"},
                "example": _request_example(schema),
            }
        },
    }


def _json(
    description: str,
    schema: dict[str, Any],
    example: Any,
    *,
    headers: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    }
    if headers:
        response["headers"] = headers
    return response


def _problem_response(status: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{ERRORS[status][0]}"}


def _problem_responses() -> dict[str, Any]:
    """One response per error status, with the headers that always come with it."""
    return {
        name: {
            "description": description,
            "headers": {
                "Cache-Control": {
                    "description": "Errors are never cached.",
                    "required": True,
                    "schema": {"const": "no-store"},
                },
                **PROBLEM_HEADERS.get(status, {}),
            },
            "content": {"application/problem+json": {"schema": PROBLEM_REF}},
        }
        for status, (name, description) in ERRORS.items()
    }


def _request_example(schema: Schema) -> dict[str, Any]:
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


def _representation(kind: Kind) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "object": {"const": kind.name},
        "id": {"type": "string", "pattern": f"^{kind.prefix}_{ID_BODY}$"},
    }
    present = {"object", "id", "created_at", "updated_at", *kind.create.required, *kind.defaults}
    if kind.parent_param is not None:
        parent_prefix = PREFIX_OF_PARAM[kind.parent_param]
        properties[kind.parent_param] = {
            "type": "string",
            "pattern": f"^{parent_prefix}_{ID_BODY}$",
        }
        present.add(kind.parent_param)
    for name, field in kind.create.fields.items():
        schema = field.json_schema()
        nullable = name not in present or kind.defaults.get(name, "") is None
        properties[name] = {"anyOf": [schema, {"type": "null"}]} if nullable else schema
    for name, schema in READ_ONLY_EXTRAS.get(kind.name, {}).items():
        properties[name] = schema
        present.add(name)
    if kind.name == "client":
        present.add("grant_types")
    properties["created_at"] = {"type": "string", "format": "date-time"}
    properties["updated_at"] = {"type": "string", "format": "date-time"}
    for name in list(properties):
        if name not in present and "anyOf" not in properties[name]:
            properties[name] = {"anyOf": [properties[name], {"type": "null"}]}
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(name for name in present if name in properties),
        "additionalProperties": False,
    }


def _example(kind: Kind) -> dict[str, Any]:
    sample: dict[str, Any] = {"object": kind.name, "id": f"{kind.prefix}_{SAMPLE_BODY}"}
    if kind.parent_param is not None:
        sample[kind.parent_param] = f"{PREFIX_OF_PARAM[kind.parent_param]}_{SAMPLE_BODY}"
    sample |= {**kind.defaults, **_request_example(kind.create)}
    sample |= {"created_at": "2026-11-29T12:00:00.000Z", "updated_at": "2026-11-29T12:00:00.000Z"}
    return sample


def _with_secret(representation: dict[str, Any]) -> dict[str, Any]:
    """The representation at creation: the only time the secret is in it."""
    secret = {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "description": "Shown once, at creation: store it now. (Null for a public key.)",
    }
    return {**representation, "properties": {**representation["properties"], "secret": secret}}


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
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


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["field", "message"],
                },
            },
        },
        "required": ["type", "title", "status", "detail"],
    }


def _event_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "object": {"const": "event"},
            "id": {"type": "string", "pattern": f"^evt_{ID_BODY}$"},
            "type": {"type": "string"},
            "subject": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "actor": {"type": "string"},
            "issuer_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "data": {"type": "object"},
        },
        "required": ["object", "id", "type", "subject", "time", "actor", "issuer_id", "data"],
        "additionalProperties": False,
    }


def _issuer_schema() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "object": {"const": "issuer"},
            "id": {"type": "string", "pattern": f"^i_{ID_BODY}$"},
            "account_id": {"type": "string", "pattern": f"^acct_{ID_BODY}$"},
            "name": text,
            "jurisdiction": text,
            "home_region": text,
            "issuer_url": {"type": "string", "format": "uri"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "required": [
            "object",
            "id",
            "account_id",
            "name",
            "jurisdiction",
            "home_region",
            "issuer_url",
            "created_at",
            "updated_at",
        ],
        "additionalProperties": False,
    }


def render() -> bytes:
    return orjson.dumps(document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


if __name__ == "__main__":
    sys.stdout.buffer.write(render())
