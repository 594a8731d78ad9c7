"""Everything the Core API refuses, with the exact problem it answers, and proof that a refused
request stored nothing: the shard's resources and events are counted before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.api.conftest import Install
from tests.api.test_graph_support import (
    Issuer,
    account_key,
    forbidden,
    invalid,
    new_issuer,
    not_found,
    problem,
    totals,
)
from tests.conftest import FrozenClock

EC_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}
JWKS = "https://agent.example.com/jwks.json"
DATE_TIME = "must be an RFC 3339 date-time such as 2027-01-31T12:00:00Z"
URI = "must be an absolute URI without a fragment"
CIDR = "item 0 must be an IP address or a range such as 203.0.113.0/24 or 2001:db8::/32"
REDIRECT_URI = (
    "must be an https URL, an http URL on loopback, or a private-use scheme"
    " such as com.example.app:/callback (RFC 8252), without a fragment"
)
HTTPS_URI = "must be an https URL without a fragment"
CALLBACK = ["https://app.example.com/cb"]


@dataclass(frozen=True)
class World:
    """An issuer with one of everything a path can name."""

    issuer: Issuer
    ids: dict[str, str]

    def path(self, template: str) -> str:
        return template.format(**self.ids)

    def body(self, template: Any) -> Any:
        if isinstance(template, str):
            return template.format(**self.ids)
        if isinstance(template, dict):
            return {k: self.body(v) for k, v in template.items()}
        return template


@pytest.fixture
async def world(install: Install) -> World:
    issuer = await new_issuer(install)
    org, other = await issuer.organization("Acme"), await issuer.organization("Globex")
    user, agent = await issuer.user("ada@example.com"), await issuer.agent("Triage")
    membership = await issuer.member(org["id"], user["id"])
    group = await issuer.create(f"/organizations/{org['id']}/groups", {"name": "Admins"})
    client = await issuer.create("/clients", {"name": "Billing", "type": "m2m"})
    web = await issuer.create(
        "/clients", {"name": "Portal", "type": "web", "redirect_uris": CALLBACK}
    )
    verifier = await issuer.create(f"/agents/{agent['id']}/verifiers", {"type": "secret"})
    ids = {
        "org": org["id"],
        "membership": membership["id"],
        "other": other["id"],
        "user": user["id"],
        "agent": agent["id"],
        "group": group["id"],
        "client": client["id"],
        "web": web["id"],
        "verifier": verifier["id"],
    }
    return World(issuer, ids)


async def refused(
    world: World, method: str, path: str, body: Any = None, **options: Any
) -> dict[str, Any]:
    """The problem answered for a request that must change nothing."""
    before = totals(world.issuer.install)
    response = await world.issuer.request(method, world.path(path), world.body(body), **options)
    assert response.headers["content-type"] == "application/problem+json", response.text
    assert totals(world.issuer.install) == before
    problem_body: dict[str, Any] = response.json()
    assert response.status_code == problem_body["status"]
    return problem_body


CREATES = [
    # users
    ("/users", {}, [("email", "is required")]),
    ("/users", {"email": None}, [("email", "must not be null")]),
    ("/users", {"email": 7}, [("email", "must be a string, got number")]),
    ("/users", {"email": "   "}, [("email", "must be an email address")]),
    ("/users", {"email": "ada"}, [("email", "must be an email address")]),
    ("/users", {"email": "ada@@example.com"}, [("email", "must be an email address")]),
    (
        "/users",
        {"email": "a" * 64 + "@" + "b" * 186 + ".com"},
        [("email", "must be at most 254 characters")],
    ),
    (
        "/users",
        {"email": "a@example.com", "name": "x" * 201},
        [("name", "must be at most 200 characters")],
    ),
    (
        "/users",
        {"email": "a@example.com", "status": "deleted"},
        [("status", "must be one of: active, blocked")],
    ),
    (
        "/users",
        {"email": "a@example.com", "email_verified": "yes"},
        [("email_verified", "must be a boolean, got string")],
    ),
    ("/users", {"email": "a@example.com", "nickname": "A"}, [("nickname", "unknown field")]),
    (
        "/users",
        {"email": "a@example.com", "metadata": {"plan": {"tier": 1}}},
        [("metadata", "value of 'plan' must be a string, number or boolean")],
    ),
    (
        "/users",
        {"email": "a@example.com", "metadata": {"k" * 41: 1}},
        [("metadata", "keys must be 1 to 40 characters")],
    ),
    (
        "/users",
        {"email": "a@example.com", "metadata": {"note": "x" * 501}},
        [("metadata", "value of 'note' must be at most 500 chars")],
    ),
    (
        "/users",
        {"email": "a@example.com", "metadata": []},
        [("metadata", "must be an object, got array")],
    ),
    (
        "/users",
        {"email": 1, "name": "", "colour": "red", "phone": False},
        [
            ("colour", "unknown field"),
            ("email", "must be a string, got number"),
            ("name", "must not be empty"),
            ("phone", "must be a string, got boolean"),
        ],
    ),
    # organizations
    ("/organizations", {}, [("name", "is required")]),
    ("/organizations", {"name": ["Acme"]}, [("name", "must be a string, got array")]),
    (
        "/organizations",
        {"name": "Acme", "org_type": "club"},
        [
            (
                "org_type",
                "must be one of: business, education, government, nonprofit, personal, other",
            )
        ],
    ),
    (
        "/organizations",
        {"name": "Acme", "member_limit": 0},
        [("member_limit", "must be between 1 and 1000000")],
    ),
    (
        "/organizations",
        {"name": "Acme", "member_limit": 2.5},
        [("member_limit", "must be an integer, got number")],
    ),
    (
        "/organizations",
        {"name": "Acme", "member_limit": True},
        [("member_limit", "must be an integer, got boolean")],
    ),
    (
        "/organizations",
        {"name": "Acme", "contact_email": "acme"},
        [("contact_email", "must be an email address")],
    ),
    (
        "/organizations",
        {"name": "Acme", "verified_domains": ["acme"]},
        [("verified_domains", "item 0 must be a domain name such as example.com")],
    ),
    (
        "/organizations",
        {"name": "Acme", "verified_domains": ["acme.com", "ACME.com"]},
        [("verified_domains", "item 1 repeats 'acme.com'")],
    ),
    (
        "/organizations",
        {"name": "Acme", "default_member_scopes": ["tickets read"]},
        [
            (
                "default_member_scopes",
                "item 0 must be a scope: visible ASCII without spaces, quotes or backslashes",
            )
        ],
    ),
    (
        "/organizations",
        {"name": "Acme", "sso_only": 1, "mfa_policy": "always"},
        [
            ("sso_only", "must be a boolean, got number"),
            ("mfa_policy", "must be one of: optional, required"),
        ],
    ),
    # memberships
    ("/organizations/{org}/memberships", {}, [("member_id", "is required")]),
    (
        "/organizations/{org}/memberships",
        {"member_id": "{agent}", "status": "gone"},
        [("status", "must be one of: active, suspended")],
    ),
    (
        "/organizations/{org}/memberships",
        {"member_id": "{agent}", "scopes": "tickets:read"},
        [("scopes", "must be an array, got string")],
    ),
    (
        "/organizations/{org}/memberships",
        {"member_id": "{agent}", "role": "admin"},
        [("role", "unknown field")],
    ),
    # invitations
    ("/organizations/{org}/invitations", {"email": "bob"}, [("email", "must be an email address")]),
    (
        "/organizations/{org}/invitations",
        {"email": "bob@example.com", "expires_at": "tomorrow"},
        [("expires_at", DATE_TIME)],
    ),
    (
        "/organizations/{org}/invitations",
        {"email": "bob@example.com", "expires_at": "2027-02-30T00:00:00Z"},
        [("expires_at", DATE_TIME)],
    ),
    (
        "/organizations/{org}/invitations",
        {"email": "bob@example.com", "expires_at": "2027-01-31T12:00:00"},
        [("expires_at", DATE_TIME)],
    ),
    (
        "/organizations/{org}/invitations",
        {"email": "bob@example.com", "expires_at": "2016-12-31T23:59:60Z"},
        [("expires_at", DATE_TIME)],
    ),
    # groups and their members
    ("/organizations/{org}/groups", {"name": ""}, [("name", "must not be empty")]),
    (
        "/organizations/{org}/groups",
        {"name": "Admins", "description": "x" * 1001},
        [("description", "must be at most 1000 characters")],
    ),
    (
        "/organizations/{org}/groups/{group}/members",
        {"member_id": 5},
        [("member_id", "must be a string, got number")],
    ),
    (
        "/organizations/{org}/groups/{group}/members",
        {"member_id": "u" * 41},
        [("member_id", "must be at most 40 characters")],
    ),
    # organization API keys
    ("/organizations/{org}/api_keys", {"name": "ci"}, [("scopes", "is required")]),
    (
        "/organizations/{org}/api_keys",
        {"name": "ci", "scopes": [], "ip_allowlist": ["10.0.0.0/33"]},
        [("ip_allowlist", CIDR)],
    ),
    (
        "/organizations/{org}/api_keys",
        {"name": "ci", "scopes": [], "ip_allowlist": ["office"]},
        [("ip_allowlist", CIDR)],
    ),
    (
        "/organizations/{org}/api_keys",
        {"name": "ci", "scopes": [], "expires_at": "2027-13-01T00:00:00Z"},
        [("expires_at", DATE_TIME)],
    ),
    (
        "/organizations/{org}/api_keys",
        {"name": "ci", "scopes": [f"s{n}" for n in range(101)]},
        [("scopes", "must have at most 100 items")],
    ),
    # clients
    ("/clients", {"name": "App"}, [("type", "is required")]),
    (
        "/clients",
        {"name": "App", "type": "desktop"},
        [("type", "must be one of: m2m, web, spa, native")],
    ),
    (
        "/clients",
        {"name": "App", "type": "m2m", "redirect_uris": CALLBACK},
        [("redirect_uris", "must be empty for an m2m client")],
    ),
    (
        "/clients",
        {"name": "App", "type": "web"},
        [("redirect_uris", "are required for a web client")],
    ),
    (
        "/clients",
        {"name": "App", "type": "native", "redirect_uris": []},
        [("redirect_uris", "are required for a native client")],
    ),
    (
        "/clients",
        {"name": "App", "type": "web", "redirect_uris": ["/callback"]},
        [("redirect_uris", f"item 0 {REDIRECT_URI}")],
    ),
    (
        "/clients",
        {"name": "App", "type": "web", "redirect_uris": ["https://app.example.com/cb#top"]},
        [("redirect_uris", f"item 0 {REDIRECT_URI}")],
    ),
    (
        "/clients",
        {"name": "App", "type": "web", "redirect_uris": ["https://[::1/cb"]},
        [("redirect_uris", f"item 0 {REDIRECT_URI}")],
    ),
    (
        "/clients",
        {"name": "App", "type": "m2m", "grant_types": ["authorization_code"]},
        [("grant_types", "of an m2m client can only be client_credentials")],
    ),
    (
        "/clients",
        {
            "name": "App",
            "type": "spa",
            "redirect_uris": CALLBACK,
            "grant_types": ["client_credentials"],
        },
        [("grant_types", "of a spa client exclude client_credentials")],
    ),
    (
        "/clients",
        {"name": "App", "type": "m2m", "grant_types": ["password"]},
        [
            (
                "grant_types",
                "item 0 must be one of: client_credentials, authorization_code, refresh_token",
            )
        ],
    ),
    (
        "/clients",
        {"name": "App", "type": "m2m", "access_token_lifetime": 59},
        [("access_token_lifetime", "must be between 60 and 86400")],
    ),
    # agents
    (
        "/agents",
        {"name": "Bot", "token_lifetime": 3601},
        [("token_lifetime", "must be between 30 and 3600")],
    ),
    (
        "/agents",
        {"name": "Bot", "status": "paused"},
        [("status", "must be one of: active, disabled")],
    ),
    # verifiers
    ("/agents/{agent}/verifiers", {}, [("type", "is required")]),
    (
        "/agents/{agent}/verifiers",
        {"type": "password"},
        [("type", "must be one of: secret, public_key")],
    ),
    (
        "/agents/{agent}/verifiers",
        {"type": "secret", "jwk": EC_KEY},
        [("type", "secret takes neither jwk nor jwks_uri")],
    ),
    (
        "/clients/{client}/verifiers",
        {"type": "secret", "jwks_uri": JWKS},
        [("type", "secret takes neither jwk nor jwks_uri")],
    ),
    (
        "/agents/{agent}/verifiers",
        {"type": "public_key"},
        [("jwk", "or jwks_uri, exactly one, is required for a public_key")],
    ),
    (
        "/clients/{client}/verifiers",
        {"type": "public_key", "jwk": EC_KEY, "jwks_uri": JWKS},
        [("jwk", "or jwks_uri, exactly one, is required for a public_key")],
    ),
    (
        "/agents/{agent}/verifiers",
        {
            "type": "public_key",
            "jwk": {**EC_KEY, "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"},
        },
        [("jwk", "must be a public key: it has private key members")],
    ),
    (
        "/agents/{agent}/verifiers",
        {"type": "public_key", "jwk": {"kty": "oct", "k": "c2VjcmV0"}},
        [("jwk", "must have kty EC, RSA or OKP")],
    ),
    (
        "/agents/{agent}/verifiers",
        {"type": "public_key", "jwk": "ey..."},
        [("jwk", "must be an object, got string")],
    ),
    (
        "/agents/{agent}/verifiers",
        {"type": "public_key", "jwk": {"kty": 1}},
        [("jwk", "must have kty EC, RSA or OKP")],
    ),
    (
        "/clients/{client}/verifiers",
        {"type": "public_key", "jwks_uri": "http://agent.example.com/jwks.json"},
        [("jwks_uri", "must be an https URL without a fragment")],
    ),
    (
        "/clients/{client}/verifiers",
        {"type": "public_key", "jwks_uri": "agent.example.com/jwks.json"},
        [("jwks_uri", HTTPS_URI)],
    ),
    # personal tokens
    ("/users/{user}/personal_tokens", {}, [("name", "is required")]),
    (
        "/users/{user}/personal_tokens",
        {"name": "laptop", "expires_at": 17},
        [("expires_at", "must be a string, got number")],
    ),
    (
        "/users/{user}/personal_tokens",
        {"name": "laptop", "scopes": ["tickets:read", "tickets:read"]},
        [("scopes", "item 1 repeats 'tickets:read'")],
    ),
]


@pytest.mark.parametrize(("path", "body", "errors"), CREATES)
async def test_a_bad_create_is_a_422_naming_each_field(
    world: World, path: str, body: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    assert await refused(world, "POST", path, body) == invalid(*errors)


PATCHES = [
    ("/users/{user}", {"email": "ada"}, [("email", "must be an email address")]),
    ("/users/{user}", {"email": None}, [("email", "must not be null")]),
    ("/organizations/{org}", {"name": None}, [("name", "must not be null")]),
    (
        "/organizations/{org}",
        {"member_limit": -1},
        [("member_limit", "must be between 1 and 1000000")],
    ),
    (
        "/organizations/{org}/memberships/{membership}",
        {"member_id": "{agent}"},
        [("member_id", "cannot be changed after creation")],
    ),
    ("/clients/{client}", {"type": "web"}, [("type", "cannot be changed after creation")]),
    (
        "/agents/{agent}/verifiers/{verifier}",
        {"jwk": EC_KEY},
        [("jwk", "cannot be changed after creation")],
    ),
    ("/agents/{agent}", {"scopes": [""]}, [("scopes", "item 0 must not be empty")]),
]


@pytest.mark.parametrize(("path", "body", "errors"), PATCHES)
async def test_a_bad_patch_is_a_422_and_keeps_the_version(
    world: World, path: str, body: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    assert await refused(world, "PATCH", path, body) == invalid(*errors)
    assert (await world.issuer.get(world.path(path))).headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        (
            "/clients/{web}",
            {"redirect_uris": []},
            "redirect_uris are required for a web client (the client is web)",
        ),
        (
            "/clients/{client}",
            {"redirect_uris": CALLBACK},
            "redirect_uris must be empty for an m2m client (the client is m2m)",
        ),
    ],
)
async def test_a_patch_at_odds_with_the_stored_type_is_a_409(
    world: World, path: str, body: dict[str, Any], detail: str
) -> None:
    assert await refused(world, "PATCH", path, body) == {
        "type": "https://authpi.dev/problems/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": detail,
    }
    assert (await world.issuer.get(world.path(path))).headers["etag"] == '"1"'


async def test_a_body_that_is_no_object_is_a_422(world: World) -> None:
    assert await refused(world, "POST", "/users", ["ada@example.com"]) == invalid(
        ("$", "the body must be a JSON object")
    )


async def test_malformed_json_is_a_400(world: World) -> None:
    before = totals(world.issuer.install)
    response = await world.issuer.install.client.post(
        world.issuer.base + "/users",
        content=b'{"email": ',
        headers={
            "Authorization": f"Bearer {world.issuer.token}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert response.json()["type"] == "https://authpi.dev/problems/malformed-json"
    assert totals(world.issuer.install) == before


# paths naming what is not there


NOWHERE = [
    (
        "GET",
        "/users/usr_01jd8k2v6m4q9x7c3n5b8r2t0w",
        None,
        "user usr_01jd8k2v6m4q9x7c3n5b8r2t0w not found",
    ),
    ("GET", "/users/{org}", None, "user {org} not found"),
    ("DELETE", "/agents/agt_nope", None, "agent agt_nope not found"),
    ("PATCH", "/clients/c_nope", {"name": "x"}, "oauth client c_nope not found"),
    ("GET", "/organizations/org_nope/memberships", None, "organization org_nope not found"),
    (
        "POST",
        "/organizations/org_nope/memberships",
        {"member_id": "{user}"},
        "organization org_nope not found",
    ),
    (
        "POST",
        "/organizations/{org}/groups/grp_nope/members",
        {"member_id": "{user}"},
        "group grp_nope not found",
    ),
    ("GET", "/organizations/{other}/groups/{group}/members", None, "group {group} not found"),
    ("DELETE", "/organizations/{other}/groups/{group}", None, "group {group} not found"),
    ("POST", "/agents/agt_nope/verifiers", {"type": "secret"}, "agent agt_nope not found"),
    ("POST", "/clients/c_nope/verifiers", {"type": "secret"}, "oauth client c_nope not found"),
    ("GET", "/clients/{client}/verifiers/{verifier}", None, "client verifier {verifier} not found"),
    (
        "DELETE",
        "/clients/{client}/verifiers/{verifier}",
        None,
        "client verifier {verifier} not found",
    ),
    ("POST", "/users/usr_nope/personal_tokens", {"name": "laptop"}, "user usr_nope not found"),
    ("POST", "/users/{agent}/personal_tokens", {"name": "laptop"}, "user {agent} not found"),
]


@pytest.mark.parametrize(("method", "path", "body", "detail"), NOWHERE)
async def test_an_unknown_id_in_the_path_is_a_404(
    world: World, method: str, path: str, body: Any, detail: str
) -> None:
    assert await refused(world, method, path, body) == not_found(world.path(detail))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users/{user}", None),
        ("PATCH", "/organizations/{org}", {"name": "Mine"}),
        ("DELETE", "/agents/{agent}", None),
        ("GET", "/organizations/{org}/groups/{group}", None),
        ("POST", "/organizations/{org}/memberships", {"member_id": "{user}"}),
        ("POST", "/users/{user}/personal_tokens", {"name": "laptop"}),
    ],
)
async def test_another_issuers_resources_are_not_found_through_this_one(
    world: World, method: str, path: str, body: Any
) -> None:
    sibling = await new_issuer(world.issuer.install, name="Acme US")
    before = totals(world.issuer.install)
    response = await sibling.request(method, world.path(path), world.body(body))
    assert response.status_code == 404
    titles = {"user": "user", "org": "organization", "agent": "agent"}
    name = path.split("{")[1].split("}")[0]
    assert response.json() == not_found(f"{titles[name]} {world.ids[name]} not found")
    assert totals(world.issuer.install) == before


async def test_an_unknown_issuer_is_a_404(world: World) -> None:
    issuer = world.issuer
    before = totals(issuer.install)
    response = await issuer.install.client.post(
        f"/v1/accounts/{issuer.account_id}/issuers/i_nope/users",
        json={"email": "bob@example.com"},
        headers={"Authorization": f"Bearer {issuer.token}"},
    )
    assert response.json() == not_found(f"issuer i_nope not found in account {issuer.account_id}")
    assert totals(issuer.install) == before


# who may do what


@pytest.mark.parametrize(
    ("scopes", "method", "path", "body", "missing"),
    [
        (["users:read"], "POST", "/users", {"email": "bob@example.com"}, "users:write"),
        (["users:read"], "DELETE", "/users/{user}", None, "users:write"),
        (["users:write"], "GET", "/users", None, "users:read"),
        (["users:read", "users:write"], "GET", "/organizations/{org}", None, "organizations:read"),
        (
            ["organizations:read"],
            "PATCH",
            "/organizations/{org}",
            {"name": "X"},
            "organizations:write",
        ),
        (
            ["organizations:write"],
            "POST",
            "/clients",
            {"name": "X", "type": "m2m"},
            "clients:write",
        ),
        (
            ["clients:write"],
            "POST",
            "/agents/{agent}/verifiers",
            {"type": "secret"},
            "agents:write",
        ),
        (["agents:write"], "POST", "/users/{user}/personal_tokens", {"name": "x"}, "users:write"),
        ([], "GET", "/agents", None, "agents:read"),
    ],
)
async def test_a_key_without_the_scope_is_a_403_naming_it(
    world: World,
    clock: FrozenClock,
    scopes: list[str],
    method: str,
    path: str,
    body: Any,
    missing: str,
) -> None:
    token = await account_key(world.issuer.install, clock, scopes)
    assert await refused(world, method, path, body, token=token) == forbidden(
        f"this API key lacks the scope {missing}", scope=missing
    )


async def test_a_key_is_refused_outside_its_ip_allowlist(world: World, clock: FrozenClock) -> None:
    token = await account_key(world.issuer.install, clock, ["*"], ip_allowlist=["203.0.113.0/24"])
    body = {"email": "bob@example.com"}
    outside = {"Fly-Client-IP": "198.51.100.7"}
    assert await refused(world, "POST", "/users", body, token=token, headers=outside) == forbidden(
        "requests from 198.51.100.7 are not allowed"
    )
    assert await refused(world, "GET", "/users", token=token) == forbidden(
        "requests from 127.0.0.1 are not allowed"
    )
    inside = {"Fly-Client-IP": "203.0.113.9"}
    response = await world.issuer.post("/users", body, token=token, headers=inside)
    assert response.status_code == 201


async def test_an_org_key_is_refused_outside_its_ip_allowlist(world: World) -> None:
    token = await world.issuer.org_key(world.ids["org"], ["*"], ip_allowlist=["2001:db8::/32"])
    outside = {"Fly-Client-IP": "2001:db9::1"}
    path = "/organizations/{org}/groups"
    assert await refused(world, "GET", path, token=token, headers=outside) == forbidden(
        "requests from 2001:db9::1 are not allowed"
    )
    inside = {"Fly-Client-IP": "2001:db8::1"}
    response = await world.issuer.get(world.path(path), token=token, headers=inside)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/organizations/{other}", None),
        ("PATCH", "/organizations/{other}", {"name": "Mine"}),
        ("DELETE", "/organizations/{other}", None),
        ("POST", "/organizations/{other}/memberships", {"member_id": "{user}"}),
        ("GET", "/organizations/{other}/api_keys", None),
        ("POST", "/organizations/{other}/api_keys", {"name": "x", "scopes": ["*"]}),
        ("GET", "/organizations", None),
        ("POST", "/organizations", {"name": "Initech"}),
        ("GET", "/users", None),
        ("POST", "/users", {"email": "bob@example.com"}),
        ("DELETE", "/users/{user}", None),
        ("POST", "/agents", {"name": "Mine"}),
        ("GET", "/clients/{client}", None),
    ],
)
async def test_an_org_key_reaches_its_own_organization_only(
    world: World, method: str, path: str, body: Any
) -> None:
    token = await world.issuer.org_key(world.ids["org"], ["*"])
    assert await refused(world, method, path, body, token=token) == forbidden(
        world.path("this organization API key can only manage {org}")
    )


async def test_an_org_key_needs_its_scopes_too(world: World) -> None:
    token = await world.issuer.org_key(world.ids["org"], ["organizations:read"])
    path = "/organizations/{org}/groups"
    assert await refused(world, "POST", path, {"name": "Ops"}, token=token) == forbidden(
        "this API key lacks the scope organizations:write", scope="organizations:write"
    )
    assert (await world.issuer.get(world.path(path), token=token)).status_code == 200


async def test_an_expired_org_key_is_a_401(world: World, clock: FrozenClock) -> None:
    expiry = {"expires_at": "2026-11-29T13:00:00Z"}
    token = await world.issuer.org_key(world.ids["org"], ["*"], **expiry)
    path = world.path("/organizations/{org}/groups")
    assert (await world.issuer.get(path, token=token)).status_code == 200
    clock.moment += timedelta(hours=1)
    response = await world.issuer.get(path, token=token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="authpi"'
    assert response.json() == problem(
        "unauthenticated", "Unauthenticated", 401, "the API key has expired"
    )


async def test_an_org_key_is_unknown_to_another_issuer(world: World) -> None:
    token = await world.issuer.org_key(world.ids["org"], ["*"])
    sibling = await new_issuer(world.issuer.install, name="Acme US")
    before = totals(world.issuer.install)
    response = await sibling.get("/users", token=token)
    assert response.status_code == 401
    assert response.json() == problem(
        "unauthenticated", "Unauthenticated", 401, "the API key is not valid"
    )
    assert totals(world.issuer.install) == before


async def test_another_accounts_key_is_a_403(world: World) -> None:
    other = world.issuer.install.other_token
    detail = f"this API key cannot act on account {world.issuer.account_id}"
    for method, path, body in [
        ("GET", "/users/{user}", None),
        ("POST", "/users", {"email": "bob@example.com"}),
        ("DELETE", "/organizations/{org}", None),
    ]:
        assert await refused(world, method, path, body, token=other) == forbidden(detail)


async def test_an_issuer_of_another_account_is_a_404(world: World) -> None:
    install, issuer = world.issuer.install, world.issuer
    before = totals(install)
    for method, body in [("GET", None), ("POST", {"email": "bob@example.com"})]:
        response = await install.client.request(
            method,
            f"/v1/accounts/{install.other_account_id}/issuers/{issuer.id}/users",
            json=body,
            headers={"Authorization": f"Bearer {install.other_token}"},
        )
        assert response.json() == not_found(
            f"issuer {issuer.id} not found in account {install.other_account_id}"
        )
    assert totals(install) == before
