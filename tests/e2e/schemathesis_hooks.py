"""Schemathesis hooks for the Core API run.

Generated cases reuse a handful of `Idempotency-Key` values across different requests, which
the API rightly refuses (422). Each case gets a key of its own, so every generated request is
the first use of its key.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

import schemathesis


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = uuid.uuid4().hex


# The account and issuer the run may reach; generated ids of the right shape are swapped
# for them, while malformed ones (negative cases) go through untouched and must be refused.
_FIXED = {
    "account_id": (os.environ.get("AUTHPI_FUZZ_ACCOUNT", ""), re.compile(r"^acct_[0-9a-z]{26}$")),
    "issuer_id": (os.environ.get("AUTHPI_FUZZ_ISSUER", ""), re.compile(r"^i_[0-9a-z]{26}$")),
}


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: Any) -> Any:
    for name, (value, shape) in _FIXED.items():
        if value and name in path_parameters and shape.match(str(path_parameters[name])):
            path_parameters[name] = value
    return path_parameters
