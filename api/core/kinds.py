"""The identity graph's resource kinds: their schemas, paths, scopes and rules, declared once.

The generic Core API machinery (`api.core.graph`, `api.core.crud`) and the OpenAPI document
are both driven by these declarations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from api.schema import Boolean, Integer, Jwk, List, Metadata, Schema, String

STATUS_EVENTS: Final = {
    ("user", "blocked"): "user.blocked",
    ("user", "active"): "user.unblocked",
    ("organization", "suspended"): "organization.suspended",
    ("organization", "active"): "organization.reactivated",
    ("membership", "suspended"): "membership.suspended",
    ("membership", "active"): "membership.reactivated",
    ("agent", "disabled"): "agent.disabled",
    ("agent", "active"): "agent.enabled",
    ("client", "disabled"): "client.disabled",
    ("client", "active"): "client.enabled",
}

INVITATION_STATUSES: Final = ("pending", "accepted", "revoked")

SCOPE_ITEM: Final = String(
    "An OAuth scope.", max_length=100, format="scope", example="tickets:read"
)
SCOPES: Final = List(SCOPE_ITEM, "Scopes.", max_items=100, example=["tickets:read"])
CIDRS: Final = List(
    String("An IP address or CIDR range.", max_length=43, format="cidr"),
    "Addresses allowed to use the key; empty allows any.",
    max_items=50,
    example=["203.0.113.0/24"],
)
NAME: Final = String("A display name.", max_length=200, example="Acme")
EXPIRES_AT: Final = String("When it stops working (RFC 3339).", max_length=40, format="date-time")
MEMBER_ID: Final = String(
    "The user (`usr_`) or agent (`agt_`) that is a member.",
    max_length=40,
    format="member-id",
    example="usr_01jd8k2v6m4q9x7c3n5b8r2t0w",
)


@dataclass(frozen=True, slots=True)
class Kind:
    name: str  # singular, snake_case: the `object` of its representation and its event prefix
    plural: str  # the path segment
    prefix: str  # of its ids
    scope: str  # API key scopes `<scope>:read` and `<scope>:write`
    create: Schema
    immutable: frozenset[str] = frozenset()
    parent: str | None = None  # the kind whose path contains this one
    defaults: Mapping[str, Any] = field(default_factory=dict)
    filters: tuple[str, ...] = ()
    secret: bool = False  # a secret is minted at creation and shown once
    unique: Mapping[str, str] = field(default_factory=dict)  # index name -> what is taken
    updatable: bool = True
    title: str = ""
    # Fields the API sets itself, with their values (they are never in a request body).
    read_only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def update(self) -> Schema:
        return self.create.partial(
            self.create.name.replace("Create", "Update"), immutable=self.immutable
        )

    @property
    def parent_param(self) -> str | None:
        return f"{self.parent}_id" if self.parent else None

    @property
    def filter_values(self) -> dict[str, tuple[str, ...]]:
        """The filters that take one of a fixed set of values, with those values."""
        values: dict[str, tuple[str, ...]] = {}
        for name in self.filters:
            spec = self.create.fields.get(name)
            if isinstance(spec, String) and spec.enum is not None:
                values[name] = spec.enum
            elif name in self.read_only:
                values[name] = self.read_only[name]
        return values


USER: Final = Kind(
    name="user",
    plural="users",
    prefix="usr",
    scope="users",
    title="User",
    create=Schema(
        "UserCreate",
        {
            "email": String(
                "Unique within the issuer.",
                max_length=254,
                format="email",
                example="ada@example.com",
            ),
            "email_verified": Boolean("Whether the email address is verified."),
            "name": NAME,
            "phone": String(
                "E.164 phone number.", max_length=16, format="e164", example="+4930123456"
            ),
            "metadata": Metadata(),
            "status": String("active, or blocked from signing in.", enum=("active", "blocked")),
        },
        required=frozenset({"email"}),
    ),
    defaults={"email_verified": False, "status": "active", "metadata": {}},
    filters=("email", "status"),
    unique={"unique_user_email": "a user with this email already exists in the issuer"},
)

ORGANIZATION: Final = Kind(
    name="organization",
    plural="organizations",
    prefix="org",
    scope="organizations",
    title="Organization",
    create=Schema(
        "OrganizationCreate",
        {
            "name": NAME,
            "org_type": String(
                "What kind of customer this is.",
                enum=("business", "education", "government", "nonprofit", "personal", "other"),
            ),
            "contact_name": String("Who to contact.", max_length=200),
            "contact_email": String("Contact email.", max_length=254, format="email"),
            "contact_phone": String("Contact phone, E.164.", max_length=16, format="e164"),
            "custom_fields": Metadata("Fields your product defines for organizations."),
            "metadata": Metadata(),
            "member_limit": Integer(
                "At most this many members; null for no limit.",
                minimum=1,
                maximum=1_000_000,
                example=50,
            ),
            "status": String(
                "active, or suspended: no org claims in new tokens.", enum=("active", "suspended")
            ),
            "default_member_scopes": List(SCOPE_ITEM, "Scopes new members get.", max_items=100),
            "verified_domains": List(
                String("A domain name.", max_length=253, format="hostname"),
                "Email domains verified as this organization's.",
                max_items=50,
                example=["acme.com"],
            ),
            "sso_only": Boolean("Members must sign in with the organization's SSO."),
            "mfa_policy": String(
                "Whether members need a second factor.", enum=("optional", "required")
            ),
        },
        required=frozenset({"name"}),
    ),
    defaults={
        "org_type": "business",
        "custom_fields": {},
        "metadata": {},
        "member_limit": None,
        "status": "active",
        "default_member_scopes": [],
        "verified_domains": [],
        "sso_only": False,
        "mfa_policy": "optional",
    },
    filters=("status", "org_type"),
)

MEMBERSHIP: Final = Kind(
    name="membership",
    plural="memberships",
    prefix="mem",
    scope="organizations",
    parent="organization",
    title="Membership",
    create=Schema(
        "MembershipCreate",
        {
            "member_id": MEMBER_ID,
            "scopes": SCOPES,
            "title": String("Job title in the organization.", max_length=200),
            "metadata": Metadata(),
            "status": String("active or suspended.", enum=("active", "suspended")),
        },
        required=frozenset({"member_id"}),
    ),
    immutable=frozenset({"member_id"}),
    defaults={"metadata": {}, "status": "active"},
    filters=("member_id", "status"),
    read_only={"member_type": ("user", "agent")},
    unique={"unique_membership": "this member already belongs to the organization"},
)

INVITATION: Final = Kind(
    name="invitation",
    plural="invitations",
    prefix="inv",
    scope="organizations",
    parent="organization",
    title="Invitation",
    create=Schema(
        "InvitationCreate",
        {
            "email": String("Who is invited.", max_length=254, format="email"),
            "scopes": SCOPES,
            "expires_at": EXPIRES_AT,
        },
        required=frozenset({"email"}),
    ),
    immutable=frozenset({"email"}),
    defaults={"status": "pending"},
    filters=("email", "status"),
    read_only={"status": INVITATION_STATUSES},
)

GROUP: Final = Kind(
    name="group",
    plural="groups",
    prefix="grp",
    scope="organizations",
    parent="organization",
    title="Group",
    create=Schema(
        "GroupCreate",
        {
            "name": NAME,
            "description": String("What the group is for.", max_length=1000),
            "metadata": Metadata(),
        },
        required=frozenset({"name"}),
    ),
    defaults={"metadata": {}},
)

GROUP_MEMBER: Final = Kind(
    name="group_member",
    plural="members",
    prefix="gm",
    scope="organizations",
    parent="group",
    title="Group member",
    create=Schema("GroupMemberCreate", {"member_id": MEMBER_ID}, required=frozenset({"member_id"})),
    immutable=frozenset({"member_id"}),
    updatable=False,
    unique={"unique_group_member": "this member is already in the group"},
)

ORG_API_KEY: Final = Kind(
    name="org_api_key",
    plural="api_keys",
    prefix="key",
    scope="organizations",
    parent="organization",
    title="Organization API key",
    create=Schema(
        "OrgApiKeyCreate",
        {"name": NAME, "scopes": SCOPES, "ip_allowlist": CIDRS, "expires_at": EXPIRES_AT},
        required=frozenset({"name", "scopes"}),
    ),
    defaults={"ip_allowlist": [], "expires_at": None},
    secret=True,
)

CLIENT: Final = Kind(
    name="client",
    plural="clients",
    prefix="c",
    scope="clients",
    title="OAuth client",
    create=Schema(
        "ClientCreate",
        {
            "name": NAME,
            "type": String(
                "m2m (client_credentials), or web, spa, native (authorization code with PKCE).",
                enum=("m2m", "web", "spa", "native"),
            ),
            "redirect_uris": List(
                String("Compared exactly.", max_length=2000, format="redirect-uri"),
                "Where authorization responses may be sent.",
                max_items=20,
                example=["https://app.example.com/callback"],
            ),
            "grant_types": List(
                String(enum=("client_credentials", "authorization_code", "refresh_token")),
                "Grants the client may use.",
                max_items=3,
            ),
            "scopes": SCOPES,
            "access_token_lifetime": Integer("Seconds.", minimum=60, maximum=86_400, example=3600),
            "status": String("active, or disabled: no new tokens.", enum=("active", "disabled")),
            "metadata": Metadata(),
        },
        required=frozenset({"name", "type"}),
        rules=(
            {
                "if": {"properties": {"type": {"const": "m2m"}}, "required": ["type"]},
                "then": {
                    "properties": {
                        "redirect_uris": {"anyOf": [{"maxItems": 0}, {"type": "null"}]},
                        "grant_types": {
                            "anyOf": [
                                {"items": {"const": "client_credentials"}},
                                {"type": "null"},
                            ]
                        },
                    }
                },
                "else": {
                    "required": ["redirect_uris"],
                    "properties": {
                        "redirect_uris": {"type": "array", "minItems": 1},
                        "grant_types": {
                            "anyOf": [
                                {"items": {"not": {"const": "client_credentials"}}},
                                {"type": "null"},
                            ]
                        },
                    },
                },
            },
        ),
    ),
    immutable=frozenset({"type"}),
    defaults={
        "redirect_uris": [],
        "scopes": [],
        "access_token_lifetime": 3600,
        "status": "active",
        "metadata": {},
    },
    filters=("status", "type"),
)

AGENT: Final = Kind(
    name="agent",
    plural="agents",
    prefix="agt",
    scope="agents",
    title="Agent",
    create=Schema(
        "AgentCreate",
        {
            "name": NAME,
            "description": String("What the agent does.", max_length=1000),
            "scopes": SCOPES,
            "token_lifetime": Integer(
                "Seconds; tokens of agents are short.", minimum=30, maximum=3600, example=300
            ),
            "status": String("active, or disabled: no new tokens.", enum=("active", "disabled")),
            "metadata": Metadata(),
        },
        required=frozenset({"name"}),
    ),
    defaults={"scopes": [], "token_lifetime": 300, "status": "active", "metadata": {}},
    filters=("status",),
)

_VERIFIER_SCHEMA: Final = Schema(
    "VerifierCreate",
    {
        "type": String(
            "secret (shown once) or public_key (private_key_jwt).", enum=("secret", "public_key")
        ),
        "name": NAME,
        "jwks_uri": String(
            "Where the public keys are published.", max_length=2000, format="https-uri"
        ),
        "jwk": Jwk(),
    },
    required=frozenset({"type"}),
    rules=(
        {
            "if": {"properties": {"type": {"const": "secret"}}, "required": ["type"]},
            "then": {"properties": {"jwk": {"type": "null"}, "jwks_uri": {"type": "null"}}},
            "else": {
                "oneOf": [
                    {
                        "required": ["jwk"],
                        "properties": {"jwk": {"type": "object"}, "jwks_uri": {"type": "null"}},
                    },
                    {
                        "required": ["jwks_uri"],
                        "properties": {"jwks_uri": {"type": "string"}, "jwk": {"type": "null"}},
                    },
                ]
            },
        },
    ),
)

AGENT_VERIFIER: Final = Kind(
    name="verifier",
    plural="verifiers",
    prefix="ver",
    scope="agents",
    parent="agent",
    title="Agent verifier",
    create=_VERIFIER_SCHEMA,
    immutable=frozenset({"type", "jwks_uri", "jwk"}),
)

CLIENT_VERIFIER: Final = Kind(
    name="verifier",
    plural="verifiers",
    prefix="ver",
    scope="clients",
    parent="client",
    title="Client verifier",
    create=_VERIFIER_SCHEMA,
    immutable=frozenset({"type", "jwks_uri", "jwk"}),
)

PERSONAL_TOKEN: Final = Kind(
    name="personal_token",
    plural="personal_tokens",
    prefix="ptk",
    scope="users",
    parent="user",
    title="Personal token",
    create=Schema(
        "PersonalTokenCreate",
        {"name": NAME, "scopes": SCOPES, "expires_at": EXPIRES_AT},
        required=frozenset({"name"}),
    ),
    defaults={"scopes": [], "expires_at": None},
    secret=True,
)

KINDS: Final = (
    USER,
    ORGANIZATION,
    MEMBERSHIP,
    INVITATION,
    GROUP,
    GROUP_MEMBER,
    ORG_API_KEY,
    CLIENT,
    AGENT,
    AGENT_VERIFIER,
    CLIENT_VERIFIER,
    PERSONAL_TOKEN,
)
