"""The OpenAPI 3.1 document, generated from the schemas that validate requests.

`python -m api.openapi` prints it; `docs/openapi.json` is the checked-in copy that a test keeps
in sync, and every node serves it at `/v1/openapi.json`.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from api import openapi_accounts, openapi_keys, openapi_webhooks
from api.core import crud, invitations
from api.core.conventions import SEQUENCE_CURSOR
from api.core.crud import Operation
from api.core.kinds import INVITATION, KINDS, Kind
from api.openapi_parts import (
    ETAG_HEADER,
    ID_BODY,
    LOCATION_HEADER,
    PREFIX_OF_PARAM,
    REPLAYED_HEADER,
    SAMPLE_BODY,
    body,
    conditional,
    idempotency_parameter,
    if_match,
    json,
    list_of,
    list_parameters,
    path_parameters,
    problem_response,
    problem_responses,
    request_example,
)


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for operation in crud.OPERATIONS:
        assert operation.kind is not None
        paths.setdefault(operation.path, {})[operation.method.lower()] = _kind_operation(
            operation, operation.kind
        )
    for path, method, description in [
        *_other_operations(),
        *openapi_accounts.operations(),
        *openapi_keys.operations(),
        *openapi_webhooks.operations(),
    ]:
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
        schemas[f"{ident}List"] = list_of({"$ref": f"#/components/schemas/{ident}"})
    schemas |= openapi_accounts.schemas()
    for schema in (invitations.ACCEPT_INVITATION, invitations.REVOKE_INVITATION):
        schemas[schema.name] = schema.json_schema()
    schemas["EventList"] = list_of({"$ref": "#/components/schemas/Event"})
    schemas.update(openapi_keys.schemas())
    schemas.update(openapi_webhooks.schemas())
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
        "webhooks": openapi_webhooks.webhooks_section(),
        "components": {
            "schemas": schemas,
            "responses": problem_responses(),
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "key_<id>.<secret>"}
            },
        },
        "security": [{"apiKey": []}],
    }


def _kind_operation(operation: Operation, kind: Kind) -> dict[str, Any]:
    ident = _ident(kind)
    parameters = path_parameters(operation.path)
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
        parameters.append(idempotency_parameter())
        description["requestBody"] = body(kind.create)
        created = {**sample}
        if kind.secret or kind.name == "verifier":
            created["secret"] = f"{kind.prefix}_{SAMPLE_BODY}.s3cr3t-shown-once"
        shown = kind.secret or kind.name == "verifier"
        schema = {"$ref": f"#/components/schemas/{ident}Created"} if shown else ref
        created_headers = {
            "Location": LOCATION_HEADER,
            "Idempotency-Replayed": REPLAYED_HEADER,
        }
        description["responses"] = {
            "201": json("Created.", schema, created, etag=True, headers=created_headers)
        }
        errors += ["400", "409", "413", "415", "422"]
    elif operation.action == "list":
        parameters += list_parameters(kind.filters, enums=kind.filter_values)
        listed = {"object": "list", "data": [sample], "next_cursor": None}
        description["responses"] = {
            "200": json("A page.", {"$ref": f"#/components/schemas/{ident}List"}, listed)
        }
        errors += ["422", *(["400"] if kind.filter_values else [])]
    elif operation.action == "get":
        parameters.append(conditional("If-None-Match", "Answer 304 if this ETag is current."))
        description["responses"] = {
            "200": json("The resource.", ref, sample, etag=True),
            "304": {"description": "Not modified.", "headers": {"ETag": ETAG_HEADER}},
        }
    elif operation.action == "update":
        parameters.append(if_match())
        description["requestBody"] = body(kind.update)
        description["responses"] = {"200": json("Updated.", ref, sample, etag=True)}
        errors += ["400", "409", "412", "413", "415", "422"]
    else:
        errors += ["400"]
        parameters.append(if_match())
        description["responses"] = {"204": {"description": "Deleted, with what depends on it."}}
        errors.append("412")
    for status in sorted(set(errors)):
        description["responses"][status] = problem_response(status)
    return description


def _other_operations() -> list[tuple[str, str, dict[str, Any]]]:
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
                "actor_type": "api_key",
                "issuer_id": f"i_{SAMPLE_BODY}",
                "data": {"id": f"org_{SAMPLE_BODY}", "name": "Acme"},
            }
        ],
        "next_cursor": None,
    }
    problems = {s: problem_response(s) for s in ("401", "403", "404", "503")}
    return [
        *_invitation_actions(),
        (
            f"{crud.ISSUER_PATH}/events",
            "get",
            {
                "operationId": "listEvents",
                "summary": "List events",
                "description": "Requires `events:read`. The issuer's events in commit order.",
                "tags": ["Events"],
                "parameters": [
                    *path_parameters(crud.ISSUER_PATH),
                    *list_parameters(("type", "subject"), SEQUENCE_CURSOR.pattern),
                ],
                "responses": {
                    "200": json(
                        "A page.", {"$ref": "#/components/schemas/EventList"}, events_sample
                    ),
                    **problems,
                    "422": problem_response("422"),
                },
            },
        ),
    ]


def _invitation_actions() -> list[tuple[str, str, dict[str, Any]]]:
    sample = _example(INVITATION)
    closed = {
        "accept": {
            **sample,
            "status": "accepted",
            "accepted_at": "2026-11-30T09:00:00.000Z",
            "user_id": f"usr_{SAMPLE_BODY}",
            "membership_id": f"mem_{SAMPLE_BODY}",
        },
        "revoke": {**sample, "status": "revoked", "revoked_at": "2026-11-30T09:00:00.000Z"},
    }
    what = {
        "accept": "The user joins the organization with the invitation's scopes (or the"
        " organization's default member scopes), within its member limit; the user must"
        " exist in the issuer and have the invited email address.",
        "revoke": "The invitation can no longer be accepted.",
    }
    schemas = {"accept": invitations.ACCEPT_INVITATION, "revoke": invitations.REVOKE_INVITATION}
    described = []
    for operation in invitations.OPERATIONS:
        request_body: dict[str, Any] = body(schemas[operation.action])
        if operation.action == "revoke":
            request_body["required"] = False  # no body at all is fine
        errors = ("400", "401", "403", "404", "409", "412", "413", "415", "422", "503")
        described.append(
            (
                operation.path,
                "post",
                {
                    "operationId": operation.operation_id,
                    "summary": operation.summary,
                    "description": f"Requires the scope `{operation.scope}`. "
                    + what[operation.action]
                    + " An invitation that was accepted, revoked or has expired answers 409"
                    " `invitation-not-pending`.",
                    "tags": ["Invitations"],
                    "parameters": [
                        *path_parameters(operation.path),
                        idempotency_parameter(),
                        if_match(),
                    ],
                    "requestBody": request_body,
                    "responses": {
                        "200": json(
                            "The invitation, closed.",
                            {"$ref": "#/components/schemas/OrganizationInvitation"},
                            closed[operation.action],
                            etag=True,
                        ),
                        **{status: problem_response(status) for status in errors},
                    },
                },
            )
        )
    return described


def _ident(kind: Kind) -> str:
    return "".join(a.title.replace(" ", "") for a in crud.ancestry(kind)) + kind.title.replace(
        " ", ""
    )


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
    for name, values in kind.read_only.items():
        properties[name] = {"type": "string", "enum": list(values)}
        present.add(name)
    if kind.name == "client":
        present.add("grant_types")
    if kind is INVITATION:  # set when it closes: nullable, so absent while pending
        properties |= {
            "accepted_at": {"type": "string", "format": "date-time"},
            "revoked_at": {"type": "string", "format": "date-time"},
            "user_id": {"type": "string", "pattern": f"^usr_{ID_BODY}$"},
            "membership_id": {"type": "string", "pattern": f"^mem_{ID_BODY}$"},
        }
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
    sample |= {**kind.defaults, **request_example(kind.create)}
    sample |= {"created_at": "2026-11-29T12:00:00.000Z", "updated_at": "2026-11-29T12:00:00.000Z"}
    return sample


def _with_secret(representation: dict[str, Any]) -> dict[str, Any]:
    """The representation at creation: the only time the secret is in it."""
    secret = {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "description": "Shown once, at creation: store it now. (Null for a public key.)",
    }
    return {**representation, "properties": {**representation["properties"], "secret": secret}}


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
            "actor_type": {
                "enum": ["api_key", "user", "agent", "client", "personal_token", "system"]
            },
            "issuer_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "data": {"type": "object"},
        },
        "required": [
            "object",
            "id",
            "type",
            "subject",
            "time",
            "actor",
            "actor_type",
            "issuer_id",
            "data",
        ],
        "additionalProperties": False,
    }


def render() -> bytes:
    return orjson.dumps(document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


if __name__ == "__main__":
    sys.stdout.buffer.write(render())
