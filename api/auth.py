"""Account API key authentication, answered from the node's directory replica.

Keys are presented as `Authorization: Bearer key_<id>.<secret>` or as HTTP Basic with the key
id as user name and the secret as password. Whatever is wrong with an unknown, malformed or
mismatched key, the answer is the same 401, so probing learns nothing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from datetime import datetime

from starlette.requests import Request

from api.problems import Forbidden, Unauthenticated
from runtime.replica import DirectoryReplica
from shards.clock import rfc3339
from shards.ids import is_id
from shards.records import ApiKey
from shards.secrets import matches

INVALID_KEY = "the API key is not valid"
WILDCARD_SCOPE = "*"


async def authenticate(
    request: Request, replica: DirectoryReplica, *, now: datetime, client_ip: str | None
) -> ApiKey:
    """The active API key presented with the request."""
    key_id, secret = credentials(request.headers.get("authorization"))
    key = replica.snapshot.api_keys.get(key_id)
    if key is None and await replica.refresh_on_miss():
        key = replica.snapshot.api_keys.get(key_id)
    if key is None:
        raise Unauthenticated(INVALID_KEY)
    check_account_key(key, secret, replica, now=now, client_ip=client_ip)
    return key


def check_account_key(
    key: ApiKey, secret: str, replica: DirectoryReplica, *, now: datetime, client_ip: str | None
) -> None:
    """The secret matches, and the key is active, unexpired, of an active account and used
    from an allowed address."""
    if not matches(secret, key.digest):
        raise Unauthenticated(INVALID_KEY)
    if key.status != "active":
        raise Unauthenticated("the API key has been revoked")
    if key.expires_at is not None and key.expires_at <= rfc3339(now):
        raise Unauthenticated("the API key has expired")
    if replica.snapshot.accounts.get(key.account_id) != "active":
        raise Forbidden("the account of this API key is disabled")
    if key.ip_allowlist and not allowed(client_ip, key.ip_allowlist):
        raise Forbidden(f"requests from {client_ip or 'an unknown address'} are not allowed")


def authorize(key: ApiKey, account_id: str, scope: str) -> None:
    """The key must belong to the account in the path and hold `scope`."""
    if key.account_id != account_id:
        raise Forbidden(f"this API key cannot act on account {account_id}")
    if WILDCARD_SCOPE not in key.scopes and scope not in key.scopes:
        raise Forbidden(f"this API key lacks the scope {scope}", extensions={"scope": scope})


def credentials(header: str | None) -> tuple[str, str]:
    """`(key id, secret)` from an Authorization header, or `Unauthenticated`."""
    if not header:
        raise Unauthenticated("an API key is required: Authorization: Bearer key_<id>.<secret>")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        key_id, sep, secret = value.partition(".")
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated(INVALID_KEY) from None
        key_id, sep, secret = decoded.partition(":")
    else:
        raise Unauthenticated(f"unsupported authorization scheme {scheme!r}; use Bearer")
    if not sep or not secret or not is_id(key_id, "key"):
        raise Unauthenticated(INVALID_KEY)
    return key_id, secret


def allowed(client_ip: str | None, allowlist: tuple[str, ...]) -> bool:
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowlist)
