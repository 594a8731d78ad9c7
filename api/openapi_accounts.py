"""The OpenAPI descriptions of the account-level operations: issuers and account API keys."""

from __future__ import annotations

from typing import Any, Final

from api.core import account_keys, issuers
from api.core.issuers import CREATE_ISSUER, UPDATE_ISSUER
from api.openapi_parts import (
    ETAG_HEADER,
    ID_BODY,
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
)
from shards.issuers import DEFAULT_SETTINGS

CREATED_AT: Final = "2026-11-29T12:00:00.000Z"
ISSUER_SAMPLE: Final = {
    "object": "issuer",
    "id": f"i_{SAMPLE_BODY}",
    "account_id": f"acct_{SAMPLE_BODY}",
    "name": "Acme EU",
    "status": "active",
    "jurisdiction": "eu",
    "home_region": "fra",
    "issuer_url": f"https://id.example.com/i_{SAMPLE_BODY}",
    "settings": dict(DEFAULT_SETTINGS),
    "created_at": CREATED_AT,
    "updated_at": CREATED_AT,
}
API_KEY_SAMPLE: Final = {
    "object": "api_key",
    "id": f"key_{SAMPLE_BODY}",
    "account_id": f"acct_{SAMPLE_BODY}",
    "name": "deploy",
    "scopes": ["issuers:read", "users:write"],
    "ip_allowlist": ["203.0.113.0/24"],
    "expires_at": None,
    "status": "active",
    "last_used_at": None,
    "created_at": CREATED_AT,
    "updated_at": CREATED_AT,
}
READ_ERRORS: Final = ("401", "403", "404", "503")
WRITE_ERRORS: Final = (*READ_ERRORS, "400", "413", "415", "422")


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [*_issuer_operations(), *_api_key_operations()]


def schemas() -> dict[str, Any]:
    return {
        CREATE_ISSUER.name: CREATE_ISSUER.json_schema(),
        UPDATE_ISSUER.name: UPDATE_ISSUER.json_schema(),
        "Issuer": _issuer_schema(),
        "IssuerList": list_of({"$ref": "#/components/schemas/Issuer"}),
        account_keys.CREATE_API_KEY.name: account_keys.CREATE_API_KEY.json_schema(),
        account_keys.UPDATE_API_KEY.name: account_keys.UPDATE_API_KEY.json_schema(),
        "ApiKey": _api_key_schema(),
        "ApiKeyCreated": _api_key_schema(created=True),
        "ApiKeyList": list_of({"$ref": "#/components/schemas/ApiKey"}),
    }


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    tag: str,
    path: str,
    responses: dict[str, Any],
    errors: tuple[str, ...],
    *,
    extra: list[dict[str, Any]] | None = None,
    request: dict[str, Any] | None = None,
) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": [tag],
        "parameters": [*path_parameters(path), *(extra or [])],
    }
    if request is not None:
        described["requestBody"] = request
    described["responses"] = {
        **responses,
        **{status: problem_response(status) for status in sorted(set(errors))},
    }
    return described


def _issuer_operations() -> list[tuple[str, str, dict[str, Any]]]:
    ref = {"$ref": "#/components/schemas/Issuer"}
    listed = {"object": "list", "data": [ISSUER_SAMPLE], "next_cursor": None}
    collection, item = issuers.COLLECTION, issuers.ITEM
    return [
        (
            collection,
            "post",
            _operation(
                "createIssuer",
                "Create an issuer",
                "Requires `issuers:write`. Placed in a region of its jurisdiction, nearest to the"
                " caller unless `home_region` is given.",
                "Issuers",
                collection,
                {"201": json("Created.", ref, ISSUER_SAMPLE, etag=True)},
                (*WRITE_ERRORS, "409"),
                request=body(CREATE_ISSUER),
                extra=[idempotency_parameter()],
            ),
        ),
        (
            collection,
            "get",
            _operation(
                "listIssuers",
                "List issuers",
                "Requires `issuers:read`. The account's issuers, answered in the primary region"
                " from the directory.",
                "Issuers",
                collection,
                {"200": json("A page.", {"$ref": "#/components/schemas/IssuerList"}, listed)},
                (*READ_ERRORS, "400", "422"),
                extra=list_parameters(("status",), enums={"status": issuers.STATUSES}),
            ),
        ),
        (
            item,
            "get",
            _operation(
                "getIssuer",
                "Get an issuer",
                "Requires `issuers:read`. Answered in the issuer's home region.",
                "Issuers",
                item,
                {
                    "200": json("The issuer.", ref, ISSUER_SAMPLE, etag=True),
                    "304": {"description": "Not modified.", "headers": {"ETag": ETAG_HEADER}},
                },
                READ_ERRORS,
                extra=[conditional("If-None-Match", "Answer 304 if this ETag is current.")],
            ),
        ),
        (
            item,
            "patch",
            _operation(
                "updateIssuer",
                "Update an issuer",
                "Requires `issuers:write`. Changes the name, the status (a disabled issuer stops"
                " answering its OpenID Connect endpoints) and settings; `jurisdiction` and"
                " `home_region` never change here.",
                "Issuers",
                item,
                {"200": json("Updated.", ref, {**ISSUER_SAMPLE, "name": "Acme Europe"}, etag=True)},
                (*WRITE_ERRORS, "412"),
                extra=[if_match()],
                request=body(UPDATE_ISSUER),
            ),
        ),
        (
            item,
            "delete",
            _operation(
                "deleteIssuer",
                "Delete an issuer",
                "Requires `issuers:write`. The issuer stops resolving at every node, and all its"
                " data is removed from its shard.",
                "Issuers",
                item,
                {"204": {"description": "Deleted, with everything in it."}},
                (*READ_ERRORS, "400", "412"),
                extra=[if_match()],
            ),
        ),
    ]


def _api_key_operations() -> list[tuple[str, str, dict[str, Any]]]:
    ref = {"$ref": "#/components/schemas/ApiKey"}
    created = {**API_KEY_SAMPLE, "secret": f"key_{SAMPLE_BODY}.s3cr3t-shown-once"}
    listed = {"object": "list", "data": [API_KEY_SAMPLE], "next_cursor": None}
    collection, item = account_keys.COLLECTION, account_keys.ITEM
    rules = (
        " A key grants only scopes it holds and manages only keys whose scopes it holds; no"
        " change may leave the account without an active key holding `*` or `api_keys:write`."
    )
    return [
        (
            collection,
            "post",
            _operation(
                "createApiKey",
                "Create an account API key",
                "Requires `api_keys:write`. The secret is in this response only." + rules,
                "API keys",
                collection,
                {
                    "201": json(
                        "Created.",
                        {"$ref": "#/components/schemas/ApiKeyCreated"},
                        created,
                        etag=True,
                    )
                },
                WRITE_ERRORS,
                extra=[idempotency_parameter()],
                request=body(account_keys.CREATE_API_KEY),
            ),
        ),
        (
            collection,
            "get",
            _operation(
                "listApiKeys",
                "List account API keys",
                "Requires `api_keys:read`. Revoked keys stay listed.",
                "API keys",
                collection,
                {"200": json("A page.", {"$ref": "#/components/schemas/ApiKeyList"}, listed)},
                (*READ_ERRORS, "400", "422"),
                extra=list_parameters(("status",), enums={"status": account_keys.STATUSES}),
            ),
        ),
        (
            item,
            "get",
            _operation(
                "getApiKey",
                "Get an account API key",
                "Requires `api_keys:read`. `last_used_at` lags by up to a minute.",
                "API keys",
                item,
                {
                    "200": json("The key.", ref, API_KEY_SAMPLE, etag=True),
                    "304": {"description": "Not modified.", "headers": {"ETag": ETAG_HEADER}},
                },
                READ_ERRORS,
                extra=[conditional("If-None-Match", "Answer 304 if this ETag is current.")],
            ),
        ),
        (
            item,
            "patch",
            _operation(
                "updateApiKey",
                "Update an account API key",
                "Requires `api_keys:write`. `status: revoked` revokes it, for good." + rules,
                "API keys",
                item,
                {"200": json("Updated.", ref, API_KEY_SAMPLE, etag=True)},
                (*WRITE_ERRORS, "409", "412"),
                extra=[if_match()],
                request=body(account_keys.UPDATE_API_KEY),
            ),
        ),
        (
            item,
            "delete",
            _operation(
                "revokeApiKey",
                "Revoke an account API key",
                "Requires `api_keys:write`. The key stops authenticating at once in the primary"
                " region and within the directory refresh interval elsewhere." + rules,
                "API keys",
                item,
                {"204": {"description": "Revoked (or already revoked)."}},
                (*READ_ERRORS, "400", "409", "412"),
                extra=[if_match()],
            ),
        ),
    ]


def _issuer_schema() -> dict[str, Any]:
    text = {"type": "string"}
    settings = UPDATE_ISSUER.fields["settings"].json_schema()
    settings["properties"] = {
        name: {"anyOf": [shape["anyOf"][0], {"type": "null"}]}
        if name == "default_audience"
        else shape["anyOf"][0]
        for name, shape in settings["properties"].items()
    }
    settings["required"] = sorted(settings["properties"])
    return {
        "type": "object",
        "properties": {
            "object": {"const": "issuer"},
            "id": {"type": "string", "pattern": f"^i_{ID_BODY}$"},
            "account_id": {"type": "string", "pattern": f"^acct_{ID_BODY}$"},
            "name": text,
            "status": {"type": "string", "enum": list(issuers.STATUSES)},
            "jurisdiction": text,
            "home_region": text,
            "issuer_url": {"type": "string", "format": "uri"},
            "settings": settings,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "required": sorted(ISSUER_SAMPLE),
        "additionalProperties": False,
    }


def _api_key_schema(*, created: bool = False) -> dict[str, Any]:
    fields = account_keys.UPDATE_API_KEY.fields
    nullable_time = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}
    properties: dict[str, Any] = {
        "object": {"const": "api_key"},
        "id": {"type": "string", "pattern": f"^key_{ID_BODY}$"},
        "account_id": {"type": "string", "pattern": f"^acct_{ID_BODY}$"},
        "name": fields["name"].json_schema(),
        "scopes": fields["scopes"].json_schema(),
        "ip_allowlist": fields["ip_allowlist"].json_schema(),
        "expires_at": nullable_time,
        "status": fields["status"].json_schema(),
        "last_used_at": {**nullable_time, "description": "Updated at most once a minute."},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    }
    if created:
        properties["secret"] = {
            "type": "string",
            "description": "Shown once, at creation: store it now.",
        }
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }
