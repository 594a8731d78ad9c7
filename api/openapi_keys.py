"""The OpenAPI description of an issuer's signing keys: list, and rotate."""

from __future__ import annotations

from typing import Any, Final

from api.core import crud, signing_keys
from api.openapi_parts import (
    body,
    idempotency_parameter,
    json,
    list_of,
    path_parameters,
    problem_response,
)

_SAMPLE_KID: Final = "fHcqaD_hQfybKBhuRE15-a3xNHrQAAgm9EsQBasBzYI"


def _signing_key_sample(state: str = "active") -> dict[str, Any]:
    return {
        "object": "signing_key",
        "kid": _SAMPLE_KID,
        "alg": "ES256",
        "state": state,
        "public_jwk": {
            "kty": "EC",
            "crv": "P-256",
            "x": "OelBimZreb-_S_0JlMPNpU23j42J3VasKurrFDnP1IU",
            "y": "8S01KhzC6qnQB55rnrea9FQyoYLDI7ACe6gOkCcGcLk",
            "kid": _SAMPLE_KID,
            "alg": "ES256",
            "use": "sig",
        },
        "created_at": "2026-11-29T12:00:00.000Z",
        "activates_at": "2026-11-29T12:05:10.000Z"
        if state == "standby"
        else "2026-11-29T12:00:00.000Z",
        "retires_at": None,
        "expires_at": None,
    }


def schemas() -> dict[str, Any]:
    moment = {"type": ["string", "null"], "format": "date-time"}
    key = {
        "type": "object",
        "required": [
            "object",
            "kid",
            "alg",
            "state",
            "public_jwk",
            "created_at",
            "activates_at",
            "retires_at",
            "expires_at",
        ],
        "properties": {
            "object": {"const": "signing_key"},
            "kid": {"type": "string", "description": "RFC 7638 thumbprint of the key."},
            "alg": {"type": "string", "enum": list(signing_keys.SIGNING_ALGS)},
            "state": {
                "type": "string",
                "enum": ["standby", "active", "retired", "expired"],
                "description": "standby: published, not signing yet; retired: no longer"
                " signing, published until `expires_at`.",
            },
            "public_jwk": {"type": "object", "description": "As published in the JWKS."},
            "created_at": {"type": "string", "format": "date-time"},
            "activates_at": {"type": "string", "format": "date-time"},
            "retires_at": moment,
            "expires_at": moment,
        },
        "additionalProperties": False,
    }
    return {
        signing_keys.ROTATE.name: signing_keys.ROTATE.json_schema(),
        "SigningKey": key,
        "SigningKeyList": list_of({"$ref": "#/components/schemas/SigningKey"}),
        "SigningKeyRotationResult": {
            "type": "object",
            "required": ["object", "key", "retired"],
            "properties": {
                "object": {"const": "signing_key_rotation"},
                "key": {"$ref": "#/components/schemas/SigningKey"},
                "retired": {"type": "array", "items": {"$ref": "#/components/schemas/SigningKey"}},
            },
            "additionalProperties": False,
        },
    }


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    base = f"{crud.ISSUER_PATH}/signing_keys"
    problems = {s: problem_response(s) for s in ("401", "403", "404", "503")}
    rotation = {
        "object": "signing_key_rotation",
        "key": _signing_key_sample("standby"),
        "retired": [],
    }
    return [
        (
            base,
            "get",
            {
                "operationId": "listSigningKeys",
                "summary": "List signing keys",
                "description": "Requires `issuers:read`. Every key in the issuer's JWKS.",
                "tags": ["Signing keys"],
                "parameters": path_parameters(crud.ISSUER_PATH),
                "responses": {
                    "200": json(
                        "The keys.",
                        {"$ref": "#/components/schemas/SigningKeyList"},
                        {"object": "list", "data": [_signing_key_sample()], "next_cursor": None},
                    ),
                    **problems,
                },
            },
        ),
        (
            f"{base}/rotate",
            "post",
            {
                "operationId": "rotateSigningKey",
                "summary": "Rotate a signing key",
                "description": "Requires `issuers:write`. The new key is published at once and"
                " signs after every JWKS cache has seen it, unless `immediate`; the keys it"
                " replaces stay published until every token they signed has expired."
                " Emits `signing_key.rotated`.",
                "tags": ["Signing keys"],
                "parameters": [
                    *path_parameters(crud.ISSUER_PATH),
                    idempotency_parameter(),
                ],
                "requestBody": body(signing_keys.ROTATE),
                "responses": {
                    "201": json(
                        "Rotated.",
                        {"$ref": "#/components/schemas/SigningKeyRotationResult"},
                        rotation,
                    ),
                    **problems,
                    **{s: problem_response(s) for s in ("400", "409", "413", "415", "422")},
                },
            },
        ),
    ]
