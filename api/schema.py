"""Request schemas: one declaration validates bodies and becomes the OpenAPI document.

A `Schema` is an object of named `Field`s. `validate` reports every bad field at once, as
`{field, message}` pairs (a dotted path for nested values); `json_schema` gives the JSON
Schema 2020-12 that OpenAPI 3.1 embeds. Strings are trimmed; unknown fields are errors.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from api.problems import FieldError, ValidationFailed
from shards.clock import rfc3339

MAX_JWK_MEMBERS: Final = 20
PUBLIC_KEY_TYPES: Final = frozenset({"EC", "RSA", "OKP"})
PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
METADATA_MAX_KEYS: Final = 50
METADATA_MAX_KEY_LENGTH: Final = 40
METADATA_MAX_VALUE_LENGTH: Final = 500
_OCTET: Final = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4: Final = rf"{_OCTET}(\.{_OCTET}){{3}}"
_H16: Final = "[0-9A-Fa-f]{1,4}"


def _ipv6_pattern() -> str:
    """RFC 4291 §2.2 text forms: eight groups, or at most seven around one `::`."""
    forms = [f"({_H16}:){{7}}{_H16}"]
    for left in range(8):
        before = f"({_H16}:){{{left - 1}}}{_H16}" if left else ""
        after = f"({_H16}(:{_H16}){{0,{6 - left}}})?" if left < 7 else ""
        forms.append(f"{before}::{after}")
    return "(" + "|".join(forms) + ")"


_IPV6: Final = _ipv6_pattern()
# A TCP port a URL may name: 1 to 65535.
_PORT: Final = (
    r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
)
# Each format is one regular expression, used both to check values and in the JSON Schema, so
# what the schema admits and what the API accepts are the same set.
_FORMAT_PATTERNS: Final = {
    "email": re.compile(
        r"^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
        r"[A-Za-z]{2,63}$"
    ),
    "uri": re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[\x21\x22\x24-\x7e]+$"),
    "https-uri": re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[\x21\x22\x24-\x7e]*)?$"),
    "http-uri": re.compile(
        rf"^https?://([A-Za-z0-9.-]+|\[{_IPV6}\])(:{_PORT})?(/[\x21\x22\x24-\x7e]*)?$"
    ),
    "redirect-uri": re.compile(
        r"^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[\x21\x22\x24-\x7e]*)?"
        r"|http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?(/[\x21\x22\x24-\x7e]*)?"
        r"|[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:/[\x21\x22\x24-\x7e]*)$"
    ),
    "scope": re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$"),  # RFC 6749 §3.3 scope-token
    "hostname": re.compile(r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"),
    "e164": re.compile(r"^\+[1-9][0-9]{6,14}$"),
    # RFC 3339 §5.6 without what no date-time of ours can hold: year zero and leap seconds.
    "date-time": re.compile(
        r"^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])"
        r"-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
        r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
    ),
    "member-id": re.compile(r"^(usr|agt)_[0-9a-hjkmnp-tv-z]{26}$"),
    "user-id": re.compile(r"^usr_[0-9a-hjkmnp-tv-z]{26}$"),
    "issuer-id": re.compile(r"^i_[0-9a-hjkmnp-tv-z]{26}$"),
    # An address or a range in prefix notation; no zone ids, netmasks or embedded IPv4.
    "cidr": re.compile(
        rf"^({_IPV4}(/(3[0-2]|[12]?[0-9]))?|{_IPV6}(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$"
    ),
}
# Explicit classes only: `\s` means different things to Python and to JSON Schema (ECMA-262).
_NOT_BLANK: Final = re.compile(
    "[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)
_FORMAT_MESSAGES: Final = {
    "email": "must be an email address",
    "uri": "must be an absolute URI without a fragment",
    "https-uri": "must be an https URL without a fragment",
    "http-uri": "must be an http or https URL without a fragment",
    "redirect-uri": "must be an https URL, an http URL on loopback, or a private-use scheme"
    " such as com.example.app:/callback (RFC 8252), without a fragment",
    "scope": "must be a scope: visible ASCII without spaces, quotes or backslashes",
    "hostname": "must be a domain name such as example.com",
    "e164": "must be an E.164 phone number such as +4930123456",
    "date-time": "must be an RFC 3339 date-time such as 2027-01-31T12:00:00Z",
    "member-id": "must name a user (usr_...) or an agent (agt_...)",
    "user-id": "must name a user (usr_...)",
    "issuer-id": "must name an issuer (i_...)",
    "cidr": "must be an IP address or a range such as 203.0.113.0/24 or 2001:db8::/32",
}
FORMAT_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    **{name: {"pattern": pattern.pattern} for name, pattern in _FORMAT_PATTERNS.items()},
    # and a real calendar date, which no pattern can say
    "date-time": {"pattern": _FORMAT_PATTERNS["date-time"].pattern, "format": "date-time"},
}


ENUM_LISTED: Final = 20  # longer enumerations are not spelled out in error messages


class Invalid(Exception):
    """A value failed its field's check; the message is what the client reads."""


class InvalidFields(Invalid):
    """Members of a nested object failed their checks; each is reported on its own."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(", ".join(error["field"] for error in errors))
        self.errors = errors


class Field(Protocol):
    def check(self, value: object) -> Any:
        """The clean value, or raise `Invalid`."""
        ...

    def json_schema(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class String:
    """A string, taken exactly as sent: a value the schema refuses is refused here too."""

    description: str = ""
    min_length: int = 1
    max_length: int = 200
    enum: tuple[str, ...] | None = None
    format: str | None = None
    example: str | None = None

    def check(self, value: object) -> Any:
        if not isinstance(value, str):
            raise Invalid(f"must be a string, got {json_type(value)}")
        if self.enum is not None:
            if value not in self.enum:
                if len(self.enum) > ENUM_LISTED:  # a catalogue: name the value, not the list
                    raise Invalid(
                        f"{value[:100]!r} is not one of the {len(self.enum)} known values"
                    )
                raise Invalid(f"must be one of: {', '.join(self.enum)}")
            return value
        if len(value) < self.min_length:
            raise Invalid(
                "must not be empty"
                if self.min_length == 1
                else f"must be at least {self.min_length} characters"
            )
        if len(value) > self.max_length:
            raise Invalid(f"must be at most {self.max_length} characters")
        if self.format is None:
            if not _NOT_BLANK.search(value):
                raise Invalid("must not be blank")
            return value
        return _check_format(self.format, value)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        else:
            schema |= {"minLength": self.min_length, "maxLength": self.max_length}
            schema |= (
                FORMAT_SCHEMAS[self.format] if self.format else {"pattern": _NOT_BLANK.pattern}
            )
        return _described(schema, self.description, self.example)


@dataclass(frozen=True, slots=True)
class Integer:
    description: str = ""
    minimum: int = 0
    maximum: int = 2**31 - 1
    example: int | None = None

    def check(self, value: object) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one number type: 3.0 is the integer 3
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
    min_items: int = 0

    def check(self, value: object) -> Any:
        if not isinstance(value, list):
            raise Invalid(f"must be an array, got {json_type(value)}")
        if len(value) > self.max_items:
            raise Invalid(f"must have at most {self.max_items} items")
        if len(value) < self.min_items:
            raise Invalid(f"must have at least {self.min_items} item{'s' * (self.min_items > 1)}")
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
        if self.min_items:
            schema["minItems"] = self.min_items
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
                        # what a double holds: a longer number is refused as malformed JSON
                        {
                            "type": "number",
                            "minimum": -sys.float_info.max,
                            "maximum": sys.float_info.max,
                        },
                        {"type": "boolean"},
                    ]
                },
            },
            self.description,
            {"plan": "enterprise"},
        )


@dataclass(frozen=True, slots=True)
class Jwk:
    """A public JSON Web Key (RFC 7517 §4): string members, `kty` EC, RSA or OKP, and none of
    the private members (RFC 7518 §6)."""

    description: str = "A public JWK (RFC 7517)."
    max_member_length: int = 2048

    def check(self, value: object) -> Any:
        if not isinstance(value, dict):
            raise Invalid(f"must be an object, got {json_type(value)}")
        if len(value) > MAX_JWK_MEMBERS:
            raise Invalid(f"must have at most {MAX_JWK_MEMBERS} members")
        if not isinstance(value.get("kty"), str) or value["kty"] not in PUBLIC_KEY_TYPES:
            raise Invalid("must have kty EC, RSA or OKP")
        if PRIVATE_JWK_MEMBERS & set(value):
            raise Invalid("must be a public key: it has private key members")
        for key, item in value.items():
            if key == "key_ops":
                if not isinstance(item, list) or not all(isinstance(op, str) for op in item):
                    raise Invalid("member 'key_ops' must be an array of strings")
            elif not isinstance(item, str) or len(item) > self.max_member_length:
                raise Invalid(f"member {key!r} must be a string of at most 2048 characters")
        return dict(value)

    def json_schema(self) -> dict[str, Any]:
        return _described(
            {
                "type": "object",
                "required": ["kty"],
                "maxProperties": MAX_JWK_MEMBERS,
                "properties": {
                    "kty": {"enum": sorted(PUBLIC_KEY_TYPES)},
                    "key_ops": {"type": "array", "items": {"type": "string"}},
                },
                "propertyNames": {"not": {"enum": sorted(PRIVATE_JWK_MEMBERS)}},
                "additionalProperties": {"type": "string", "maxLength": self.max_member_length},
            },
            self.description,
            {
                "kty": "EC",
                "crv": "P-256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            },
        )


@dataclass(frozen=True, slots=True)
class Object:
    """A nested object with its own schema; its errors are reported as `outer.inner`."""

    schema: Schema
    description: str = ""

    def check(self, value: object) -> Any:
        if not isinstance(value, dict):
            raise Invalid(f"must be an object, got {json_type(value)}")
        try:
            return self.schema.validate(value)
        except ValidationFailed as exc:
            raise InvalidFields(list(exc.extensions["errors"])) from None

    def json_schema(self) -> dict[str, Any]:
        return _described(self.schema.json_schema(), self.description, None)


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    fields: Mapping[str, Field]
    required: frozenset[str] = field(default_factory=frozenset)
    description: str = ""
    not_null: frozenset[str] = field(default_factory=frozenset)  # optional, but never null
    # Rules across fields, as JSON Schema (checked in the domain code that owns them).
    rules: tuple[dict[str, Any], ...] = ()
    # Fields a body may not carry, with why: clearer than "unknown field" for fields that
    # exist but are fixed for good (an issuer's jurisdiction).
    fixed: Mapping[str, str] = field(default_factory=dict)

    def validate(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The clean values present in `document`; raises `ValidationFailed` listing each error."""
        errors: list[FieldError] = [
            {"field": name, "message": self.fixed.get(name, "unknown field")}
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
                if name in self.required or name in self.not_null:
                    errors.append({"field": name, "message": "must not be null"})
                else:
                    clean[name] = None
                continue
            try:
                clean[name] = spec.check(document[name])
            except InvalidFields as exc:
                errors += [
                    {"field": f"{name}.{error['field']}", "message": error["message"]}
                    for error in exc.errors
                ]
            except Invalid as exc:
                errors.append({"field": name, "message": str(exc)})
        if errors:
            raise ValidationFailed(errors)
        return clean

    def partial(self, name: str, *, immutable: frozenset[str] = frozenset()) -> Schema:
        """The same fields, all optional, less the immutable ones: a PATCH body.

        A field required at creation may be changed but never nulled.
        """
        fields = {k: v for k, v in self.fields.items() if k not in immutable}
        not_null = frozenset(k for k in fields if k in self.required | self.not_null)
        fixed = {
            **{k: "cannot be changed after creation" for k in immutable},
            **self.fixed,
        }
        return replace(
            self,
            name=name,
            fields=fields,
            required=frozenset(),
            not_null=not_null,
            rules=(),
            fixed=fixed,
        )

    def json_schema(self) -> dict[str, Any]:
        properties = {}
        for name, spec in self.fields.items():
            shape = spec.json_schema()
            nullable = name not in self.required and name not in self.not_null
            properties[name] = {"anyOf": [shape, {"type": "null"}]} if nullable else shape
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if self.rules:
            schema["allOf"] = list(self.rules)
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


def _check_format(kind: str, value: str) -> str:
    pattern = _FORMAT_PATTERNS.get(kind)
    # `fullmatch`: Python's `$` also matches before a final newline, ECMA-262's does not.
    if pattern is not None and not pattern.fullmatch(value):
        raise Invalid(_FORMAT_MESSAGES[kind])
    if kind == "email":
        return value.lower()  # one person, one address: compared without case everywhere
    if kind == "date-time":
        try:
            moment = datetime.fromisoformat(value.upper())
        except ValueError:  # not a calendar date, such as February 30
            raise Invalid(_FORMAT_MESSAGES[kind]) from None
        return rfc3339(_in_utc(moment))
    if kind == "hostname":
        return value.lower()
    return value


def _in_utc(moment: datetime) -> datetime:
    """The moment in UTC, held at the ends of the calendar, which an offset can push past
    (9999-12-31T23:59:59-01:00 is in year 10000): for an expiry, still "never" or "long ago"."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


def _described(schema: dict[str, Any], description: str, example: object) -> dict[str, Any]:
    if description:
        schema["description"] = description
    if example is not None:
        schema["examples"] = [example]
    return schema
