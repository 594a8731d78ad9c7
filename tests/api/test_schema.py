"""What a field's JSON Schema admits is what its check accepts, value by value.

The OpenAPI document is the contract: a value the schema admits must not be refused, and one
it refuses must not be stored. The schemas are judged by the JSON Schema validator that API
testers use, formats included.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.core.kinds import CLIENT, EXPIRES_AT, USER
from api.schema import FORMAT_SCHEMAS, Field, Invalid, Jwk, String

REDIRECT_URI = CLIENT.create.fields["redirect_uris"]
EMAIL = USER.create.fields["email"]
HOSTNAME = String(max_length=253, format="hostname")
CIDR = String(max_length=43, format="cidr")

CASES: list[tuple[Field, Any, bool]] = [
    (EXPIRES_AT, "2027-01-31T12:00:00Z", True),
    (EXPIRES_AT, "2027-01-31t12:00:00.123456789z", True),
    (EXPIRES_AT, "0028-10-20T12:03:37.8Z", True),
    (EXPIRES_AT, "0001-01-01T00:00:00+01:00", True),  # held at the start of the calendar
    (EXPIRES_AT, "9999-12-31T23:59:59-01:00", True),  # held at its end
    (EXPIRES_AT, "0000-01-01T00:00:00Z", False),
    (EXPIRES_AT, "2016-12-31T23:59:60Z", False),
    (EXPIRES_AT, "2027-02-30T00:00:00Z", False),
    (EXPIRES_AT, "2027-01-31T12:00:00", False),
    (EXPIRES_AT, "2027-01-31 12:00:00Z", False),
    (EXPIRES_AT, "2027-01-31T12:00:00+24:00", False),
    (EMAIL, "ada@example.com", True),
    (EMAIL, "Ada.Lovelace+x@Mail.Example.COM", True),
    (EMAIL, "ada@localhost", False),
    (EMAIL, "ada@example.com\n", False),
    (EMAIL, ".ada@example.com", False),
    (EMAIL, "ada..l@example.com", False),
    (EMAIL, "ada@-example.com", False),
    (REDIRECT_URI, ["https://app.example.com/callback?x=1"], True),
    (REDIRECT_URI, ["http://127.0.0.1:8080/cb"], True),
    (REDIRECT_URI, ["com.example.app:/callback"], True),
    (REDIRECT_URI, ["http://app.example.com/callback"], False),
    (REDIRECT_URI, ["https://app.example.com/#fragment"], False),
    (REDIRECT_URI, ["javascript:alert(1)"], False),
    (HOSTNAME, "acme.com", True),
    (HOSTNAME, "acme", False),
    (CIDR, "203.0.113.0/24", True),
    (CIDR, "2001:db8::/32", True),
    (CIDR, "203.0.113.0/33", False),
    (CIDR, "::", True),
    (CIDR, "fe80::1:2:3:4:5:6/64", True),
    (CIDR, "1:2:3:4:5:6:7:8/128", True),
    (CIDR, "1:2:3:4:5:6:7::", True),
    (CIDR, "1:2:3:4:5:6:7:8:9", False),
    (CIDR, "1::2::3", False),
    (CIDR, "fe80::1%eth0", False),
    (CIDR, "::ffff:192.0.2.1", False),
    (CIDR, "10.0.0.0/255.0.0.0", False),
    (CIDR, "010.0.0.1", False),
    (CIDR, "::\n", False),
    (Jwk(), {"kty": "EC", "crv": "P-256", "x": "f83O", "y": "x_FE"}, True),
    (Jwk(), {"kty": "EC", "key_ops": ["verify"]}, True),
    (Jwk(), {"kty": {"EC": 1}}, False),
    (Jwk(), {"kty": "oct", "k": "c2VjcmV0"}, False),
    (Jwk(), {"kty": "RSA", "d": "private"}, False),
    (Jwk(), {"kty": "RSA", "n": 65537}, False),
]


@pytest.mark.parametrize(("field", "value", "valid"), CASES)
def test_the_schema_and_the_check_agree(field: Field, value: Any, valid: bool) -> None:
    validator = jsonschema_rs.validator_for(field.json_schema(), validate_formats=True)
    assert validator.is_valid(value) is valid
    if valid:
        field.check(value)
    else:
        with pytest.raises(Invalid):
            field.check(value)


@given(st.from_regex(FORMAT_SCHEMAS["cidr"]["pattern"], fullmatch=True))
def test_every_address_the_pattern_admits_is_one(value: str) -> None:
    ipaddress.ip_network(value, strict=False)  # what allowlists are matched with


@given(st.from_regex(FORMAT_SCHEMAS["date-time"]["pattern"], fullmatch=True))
def test_a_date_time_is_refused_only_for_a_date_the_calendar_lacks(value: str) -> None:
    validator = jsonschema_rs.validator_for(FORMAT_SCHEMAS["date-time"], validate_formats=True)
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        assert not validator.is_valid(value)
    else:
        assert validator.is_valid(value)
