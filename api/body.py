"""Reading request bodies: JSON objects only, size-capped before parsing."""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.requests import Request

from api.problems import MalformedJson, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

# Core API bodies are small configuration documents; 64 KiB is generous and keeps a hostile
# client from making a node buffer megabytes before it can say no.
MAX_BODY_BYTES: Final = 64 * 1024


async def read_json_object(request: Request) -> dict[str, Any]:
    return parse_json_object(await read_json_body(request))


async def read_json_body(request: Request) -> bytes:
    """The raw body of a JSON request, refused before buffering past the size limit."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(
            f"the body must be application/json, got {content_type or 'no Content-Type'}"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is over the limit of {MAX_BODY_BYTES} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over the limit of {MAX_BODY_BYTES} bytes")
    return bytes(chunks)


def parse_json_object(chunks: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(chunks)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ValidationFailed([{"field": "$", "message": "the body must be a JSON object"}])
    return document


async def read_optional_json_object(request: Request) -> dict[str, Any]:
    """A JSON object, or `{}` for a request sent with no body at all (an action's POST)."""
    if "content-type" not in request.headers and not await request.body():
        return {}
    return await read_json_object(request)
