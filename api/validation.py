"""Field validation for request bodies: every error reported at once, field by field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.problems import FieldError, ValidationFailed


@dataclass(frozen=True, slots=True)
class Text:
    """A string field, trimmed of surrounding whitespace."""

    required: bool = True
    min_length: int = 1
    max_length: int = 200

    def check(self, value: object) -> tuple[str | None, str | None]:
        """(clean value, None) or (None, error message)."""
        if not isinstance(value, str):
            return None, f"must be a string, got {_json_type(value)}"
        value = value.strip()
        if len(value) < self.min_length:
            return None, "must not be empty"
        if len(value) > self.max_length:
            return None, f"must be at most {self.max_length} characters"
        return value, None


def validate(document: Mapping[str, Any], fields: Mapping[str, Text]) -> dict[str, str]:
    """The clean values of `fields`; raises `ValidationFailed` listing every bad field."""
    errors: list[FieldError] = [
        {"field": name, "message": "unknown field"} for name in document if name not in fields
    ]
    clean: dict[str, str] = {}
    for name, spec in fields.items():
        if name not in document or document[name] is None:
            if spec.required:
                errors.append({"field": name, "message": "is required"})
            continue
        value, message = spec.check(document[name])
        if message is not None:
            errors.append({"field": name, "message": message})
        elif value is not None:
            clean[name] = value
    if errors:
        raise ValidationFailed(errors)
    return clean


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__
