"""Request schemas: one declaration validates bodies and becomes the OpenAPI document.

A `Schema` is an object of named `Field`s. `validate` reports every bad field at once, as
`{field, message}` pairs (a dotted path for nested values); `json_schema` gives the JSON
Schema 2020-12 that OpenAPI 3.1 embeds. Strings are trimmed; unknown fields are errors.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from api.problems import FieldError, ValidationFailed
from shards.clock import rfc3339

METADATA_MAX_KEYS: Final = 50
METADATA_MAX_KEY_LENGTH: Final = 40
METADATA_MAX_VALUE_LENGTH: Final = 500
_EMAIL: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_DATE_TIME: Final = re.compile(r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")
_SCOPE: Final = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token


class Invalid(Exception):
    """A value failed its field's check; the message is what the client reads."""


class Field(Protocol):
    def check(self, value: object) -> Any:
        """The clean value, or raise `Invalid`."""
        ...

    def json_schema(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class String:
    description: str = ""
    min_length: int = 1
    max_length: int = 200
    enum: tuple[str, ...] | None = None
    format: str | None = None
    example: str | None = None

    def check(self, value: object) -> Any:
        if not isinstance(value, str):
            raise Invalid(f"must be a string, got {json_type(value)}")
        value = value.strip()
        if self.enum is not None:
            if value not in self.enum:
                raise Invalid(f"must be one of: {', '.join(self.enum)}")
            return value
        if len(value) < self.min_length:
            raise Invalid("must not be empty" if self.min_length == 1 else
                          f"must be at least {self.min_length} characters")  # fmt: skip
        if len(value) > self.max_length:
            raise Invalid(f"must be at most {self.max_length} characters")
        return _check_format(self.format, value)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        else:
            schema |= {"minLength": self.min_length, "maxLength": self.max_length}
        if self.format is not None and self.format != "scope":
            schema["format"] = self.format
        return _described(schema, self.description, self.example)


@dataclass(frozen=True, slots=True)
class Integer:
    description: str = ""
    minimum: int = 0
    maximum: int = 2**31 - 1
    example: int | None = None

    def check(self, value: object) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"must be an integer, got {json_type(value)}")
        if not self.minimum <= value <= self.maximum:
            raise Invalid(f"must be between {self.minimum} and {self.maximum}")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        return _described(schema, self.description, self.example)


@dataclass(frozen=True, slots=True)
class Boolean:
    description: str = ""

    def check(self, value: object) -> Any:
        if not isinstance(value, bool):
            raise Invalid(f"must be a boolean, got {json_type(value)}")
        return value

    def json_schema(self) -> dict[str, Any]:
        return _described({"type": "boolean"}, self.description, None)


@dataclass(frozen=True, slots=True)
class List:
    """A list of unique strings, each checked by `item`."""

    item: String
    description: str = ""
    max_items: int = 100
    example: list[str] | None = None

    def check(self, value: object) -> Any:
        if not isinstance(value, list):
            raise Invalid(f"must be an array, got {json_type(value)}")
        if len(value) > self.max_items:
            raise Invalid(f"must have at most {self.max_items} items")
        clean: list[str] = []
        for index, item in enumerate(value):
            try:
                checked = self.item.check(item)
            except Invalid as exc:
                raise Invalid(f"item {index} {exc}") from None
            if checked in clean:
                raise Invalid(f"item {index} repeats {checked!r}")
            clean.append(checked)
        return clean

    def json_schema(self) -> dict[str, Any]:
        schema = {
            "type": "array",
            "items": self.item.json_schema(),
            "maxItems": self.max_items,
            "uniqueItems": True,
        }
        return _described(schema, self.description, self.example)


@dataclass(frozen=True, slots=True)
class Metadata:
    """Free-form key/value pairs for the customer's own use: strings, numbers and booleans."""

    description: str = "Your own key/value data; AuthPI never interprets it."

    def check(self, value: object) -> Any:
        if not isinstance(value, dict):
            raise Invalid(f"must be an object, got {json_type(value)}")
        if len(value) > METADATA_MAX_KEYS:
            raise Invalid(f"must have at most {METADATA_MAX_KEYS} keys")
        for key, item in value.items():
            if not 1 <= len(key) <= METADATA_MAX_KEY_LENGTH:
                raise Invalid(f"keys must be 1 to {METADATA_MAX_KEY_LENGTH} characters")
            if isinstance(item, str) and len(item) > METADATA_MAX_VALUE_LENGTH:
                raise Invalid(f"value of {key!r} must be at most {METADATA_MAX_VALUE_LENGTH} chars")
            if not isinstance(item, str | int | float | bool):
                raise Invalid(f"value of {key!r} must be a string, number or boolean")
        return dict(value)

    def json_schema(self) -> dict[str, Any]:
        return _described(
            {
                "type": "object",
                "maxProperties": METADATA_MAX_KEYS,
                "propertyNames": {"minLength": 1, "maxLength": METADATA_MAX_KEY_LENGTH},
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string", "maxLength": METADATA_MAX_VALUE_LENGTH},
                        {"type": "number"},
                        {"type": "boolean"},
                    ]
                },
            },
            self.description,
            {"plan": "enterprise"},
        )


@dataclass(frozen=True, slots=True)
class Jwk:
    """A public JSON Web Key (RFC 7517): an object of string members."""

    description: str = "A public JWK (RFC 7517)."
    max_member_length: int = 2048

    def check(self, value: object) -> Any:
        if not isinstance(value, dict):
            raise Invalid(f"must be an object, got {json_type(value)}")
        if len(value) > 20:
            raise Invalid("must have at most 20 members")
        for key, item in value.items():
            if key == "key_ops" and isinstance(item, list):
                continue
            if not isinstance(item, str) or len(item) > self.max_member_length:
                raise Invalid(f"member {key!r} must be a string of at most 2048 characters")
        return dict(value)

    def json_schema(self) -> dict[str, Any]:
        return _described(
            {"type": "object", "required": ["kty"], "maxProperties": 20},
            self.description,
            {
                "kty": "EC",
                "crv": "P-256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            },
        )


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    fields: Mapping[str, Field]
    required: frozenset[str] = field(default_factory=frozenset)
    description: str = ""

    def validate(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The clean values present in `document`; raises `ValidationFailed` listing each error."""
        errors: list[FieldError] = [
            {"field": name, "message": "unknown field"}
            for name in document
            if name not in self.fields
        ]
        clean: dict[str, Any] = {}
        for name, spec in self.fields.items():
            if name not in document:
                if name in self.required:
                    errors.append({"field": name, "message": "is required"})
                continue
            if document[name] is None:
                if name in self.required:
                    errors.append({"field": name, "message": "must not be null"})
                else:
                    clean[name] = None
                continue
            try:
                clean[name] = spec.check(document[name])
            except Invalid as exc:
                errors.append({"field": name, "message": str(exc)})
        if errors:
            raise ValidationFailed(errors)
        return clean

    def partial(self, name: str, *, immutable: frozenset[str] = frozenset()) -> Schema:
        """The same fields, all optional, less the immutable ones: a PATCH body."""
        fields = {k: v for k, v in self.fields.items() if k not in immutable}
        return replace(self, name=name, fields=fields, required=frozenset())

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: spec.json_schema() for name, spec in self.fields.items()},
            "additionalProperties": False,
        }
        if self.required:
            schema["required"] = sorted(self.required)
        if self.description:
            schema["description"] = self.description
        return schema


def json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else "string" if isinstance(value, str) else "value"


def _check_format(kind: str | None, value: str) -> str:
    if kind is None:
        return value
    if kind == "email":
        if not _EMAIL.match(value):
            raise Invalid("must be an email address")
        return value.lower()  # one person, one address: compared without case everywhere
    if kind == "uri":
        parts = urlsplit(value)
        if not parts.scheme or not (parts.netloc or parts.path) or parts.fragment:
            raise Invalid("must be an absolute URI without a fragment")
        return value
    if kind == "cidr":
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise Invalid(f"{value!r} is not an IP address or CIDR range") from None
    if kind == "date-time":
        if not _DATE_TIME.match(value):
            raise Invalid("must be an RFC 3339 date-time such as 2027-01-31T12:00:00Z")
        try:
            return rfc3339(datetime.fromisoformat(value.replace("z", "Z")))
        except ValueError:
            raise Invalid("must be an RFC 3339 date-time such as 2027-01-31T12:00:00Z") from None
    if kind == "scope":
        if not _SCOPE.match(value):
            raise Invalid(f"{value!r} is not a valid scope")
        return value
    if kind == "hostname":
        if not re.match(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$", value.lower()):
            raise Invalid(f"{value!r} is not a domain name")
        return value.lower()
    raise AssertionError(f"unknown format {kind}")


def _described(schema: dict[str, Any], description: str, example: object) -> dict[str, Any]:
    if description:
        schema["description"] = description
    if example is not None:
        schema["examples"] = [example]
    return schema
