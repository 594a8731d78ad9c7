"""Schemathesis hooks for the Core API run, applied to every request of every phase.

- Generated cases reuse a handful of `Idempotency-Key` values across different requests, which
  the API rightly refuses (422). Each case gets a key of its own, so every generated request
  is the first use of its key.
- Generated ids point nowhere, so without help every operation under an organization, a user
  or a client would only ever answer 404. Ids of the right shape that the API never returned
  are swapped: the account and issuer for the run's own, deeper path ids for those of the
  latest resource the run created (and has not deleted) whose path fits the operation's, and
  ids in a body for a created resource of the same kind. Ids the API returned (stateful links)
  and malformed ids (negative cases) go through untouched, and must be refused.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

import schemathesis

_ID = re.compile(r"^([a-z]{1,4})_[0-9a-z]{26}$")
_FIXED = {
    "account_id": os.environ.get("AUTHPI_FUZZ_ACCOUNT", ""),
    "issuer_id": os.environ.get("AUTHPI_FUZZ_ISSUER", ""),
}
_created: list[str] = []  # the paths (`Location`) of resources the run created, oldest first
_returned: set[str] = set()  # every id the API handed out


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = uuid.uuid4().hex
    if case.path_parameters:
        _point_path_at_created(case.operation.path, case.path_parameters)
    if isinstance(case.body, dict):
        _point_body_at_created(case.body)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if response.status_code == 201:
        for location in response.headers.get("location", []):
            _created.append(location)
            _returned.add(location.rsplit("/", 1)[-1])
    elif response.status_code == 404 or (case.method == "DELETE" and response.status_code == 204):
        gone = unquote(urlsplit(response.request.url).path)
        _created[:] = [p for p in _created if p != gone and not p.startswith(gone + "/")]


def _generated(value: object) -> bool:
    return isinstance(value, str) and _ID.match(value) is not None and value not in _returned


def _point_path_at_created(template: str, parameters: dict[str, Any]) -> None:
    for name, value in _FIXED.items():
        if value and name in parameters and _generated(parameters[name]):
            parameters[name] = value
    deeper = [name for name in parameters if name not in _FIXED]
    if not deeper or not all(_generated(parameters[name]) for name in deeper):
        return
    anchor = template[: template.rindex("}") + 1]  # the path of the deepest resource named
    pattern = re.compile(
        "^"
        + re.sub(
            r"\\\{(\w+)\\\}",
            lambda m: re.escape(str(parameters[m[1]])) if m[1] in _FIXED else f"(?P<{m[1]}>[^/]+)",
            re.escape(anchor),
        )
        + "$"
    )
    for path in reversed(_created):
        match = pattern.match(path)
        if match is not None:
            parameters.update(match.groupdict())
            return


def _point_body_at_created(body: dict[str, Any]) -> None:
    for name, value in body.items():
        if _generated(value):
            prefix = value.split("_", 1)[0]
            for path in reversed(_created):
                created = path.rsplit("/", 1)[-1]
                if created.startswith(prefix + "_"):
                    body[name] = created
                    break
