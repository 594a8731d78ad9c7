"""The identity graph's rules: what a create, update or delete must check, cascade and emit.

Every operation runs inside the caller's write transaction on the issuer's shard, so the
change, its cascades and all their events commit together or not at all. No HTTP here.

    GraphError          a rule refused the operation; nothing was written
    ├── Missing         a resource named by the path or the body does not exist
    ├── Taken           a uniqueness rule (email, membership) refused it
    ├── LimitReached    the organization's member limit is reached
    ├── Stale           the resource changed since the version the caller named
    ├── Unacceptable    fields that are valid alone but not together
    ├── NotPending      the invitation was accepted, revoked, or has expired
    └── EmailMismatch   the user accepting an invitation is not the one invited
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from api.core.kinds import (
    AGENT,
    CLIENT,
    GROUP,
    GROUP_MEMBER,
    INVITATION,
    MEMBERSHIP,
    ORGANIZATION,
    STATUS_EVENTS,
    USER,
    Kind,
)
from shards.clock import Clock, rfc3339
from shards.database import Transaction
from shards.errors import Conflict, NotFound
from shards.outbox import Outbox
from shards.resources import Resource, ResourceStore, VersionMismatch
from shards.secrets import digest, new_secret

INVITATION_LIFETIME: Final = timedelta(days=7)
_GRANTS_BY_TYPE: Final = {
    "m2m": ["client_credentials"],
    "web": ["authorization_code", "refresh_token"],
    "spa": ["authorization_code", "refresh_token"],
    "native": ["authorization_code", "refresh_token"],
}


class GraphError(Exception):
    """Base class of the graph's refusals."""


class Missing(GraphError):
    def __init__(self, kind: str, resource_id: str) -> None:
        super().__init__(f"{kind.replace('_', ' ')} {resource_id} not found")
        self.kind = kind
        self.resource_id = resource_id


class Taken(GraphError):
    pass


class LimitReached(GraphError):
    pass


class Stale(GraphError):
    def __init__(self, resource_id: str, version: int) -> None:
        super().__init__(f"{resource_id} has changed: it is now at version {version}")
        self.version = version


class Unacceptable(GraphError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message


class NotPending(GraphError):
    def __init__(self, invitation_id: str, status: str) -> None:
        super().__init__(f"invitation {invitation_id} is {status}, no longer pending")
        self.status = status


class EmailMismatch(GraphError):
    pass


@dataclass(frozen=True, slots=True)
class Created:
    resource: Resource
    secret: str | None = None

    @property
    def token(self) -> str | None:
        """What the holder presents: `<id>.<secret>` for keys and personal tokens."""
        if self.secret is None:
            return None
        if self.resource.kind == "verifier":
            return self.secret
        return f"{self.resource.id}.{self.secret}"


class Graph:
    def __init__(self, store: ResourceStore, outbox: Outbox, clock: Clock) -> None:
        self.store = store
        self._outbox = outbox
        self._clock = clock

    async def create(
        self,
        tx: Transaction,
        kind: Kind,
        issuer_id: str,
        fields: Mapping[str, Any],
        *,
        parent: Resource | None,
        actor: str,
    ) -> Created:
        data = {**kind.defaults, **{k: v for k, v in fields.items() if v is not None}}
        secret: str | None = None
        if kind is MEMBERSHIP:
            assert parent is not None
            data = await self._prepare_membership(tx, issuer_id, parent, data)
        elif kind is GROUP_MEMBER:
            assert parent is not None
            await self._check_group_member(tx, issuer_id, parent, data["member_id"])
        elif kind is INVITATION:
            data.setdefault("expires_at", rfc3339(self._clock.now() + INVITATION_LIFETIME))
        elif kind is CLIENT:
            data = _prepare_client(data)
        elif kind.name == "verifier":
            _check_verifier(data)
        if kind.secret or (kind.name == "verifier" and data["type"] == "secret"):
            secret = new_secret()
        try:
            resource = await self.store.insert(
                tx,
                kind.name,
                kind.prefix,
                issuer_id,
                data,
                parent_id=parent.id if parent else None,
                secret_digest=digest(secret) if secret else None,
            )
        except Conflict as exc:
            raise Taken(_taken_message(kind, exc)) from exc
        await self._emit(tx, kind, "created", resource, actor)
        return Created(resource, secret)

    async def update(
        self,
        tx: Transaction,
        kind: Kind,
        resource: Resource,
        fields: Mapping[str, Any],
        *,
        expected_version: int | None,
        actor: str,
    ) -> Resource:
        data = {**resource.data}
        for name, value in fields.items():  # a null resets a field, as omitting it at creation
            if value is not None:
                data[name] = value
            elif name in kind.defaults:
                data[name] = kind.defaults[name]
            else:
                data.pop(name, None)
        if kind is CLIENT:
            data = _prepare_client(data)
        if kind is INVITATION and data != resource.data:
            self._check_pending(resource, expected_version, expiry_matters=False)
        if data == resource.data:  # nothing changes: no new version, no event
            if expected_version is not None and expected_version != resource.version:
                raise Stale(resource.id, resource.version)
            return resource
        try:
            updated = await self.store.update(tx, resource, data, expected_version=expected_version)
        except VersionMismatch as exc:
            raise Stale(resource.id, exc.actual) from exc
        except Conflict as exc:
            raise Taken(_taken_message(kind, exc)) from exc
        changed = sorted(k for k in fields if resource.data.get(k) != updated.data.get(k))
        await self._emit(tx, kind, "updated", updated, actor, changed=changed)
        old, new = resource.data.get("status"), str(updated.data.get("status"))
        if old != new and (kind.name, new) in STATUS_EVENTS:
            await self._emit_named(tx, STATUS_EVENTS[(kind.name, new)], updated, actor)
        return updated

    async def update_checked(
        self,
        tx: Transaction,
        kind: Kind,
        resource: Resource,
        fields: Mapping[str, Any],
        *,
        expected_version: int | None,
        actor: str,
    ) -> Resource:
        """`update`, where a rule across fields is a conflict with the stored resource (its
        type, say), since the body alone was valid."""
        try:
            return await self.update(
                tx, kind, resource, fields, expected_version=expected_version, actor=actor
            )
        except Unacceptable as exc:
            raise Taken(
                f"{exc.field} {exc.message} (the {kind.name.replace('_', ' ')} is "
                f"{resource.data.get('type', 'as stored')})"
            ) from exc

    async def delete(
        self,
        tx: Transaction,
        kind: Kind,
        resource: Resource,
        *,
        expected_version: int | None,
        actor: str,
    ) -> None:
        if expected_version is not None and expected_version != resource.version:
            raise Stale(resource.id, resource.version)
        for dependant in await self._dependants(tx, kind, resource):
            await self.store.delete(tx, dependant)
            await self._emit_named(tx, f"{event_prefix(dependant)}.deleted", dependant, actor)
        await self.store.delete(tx, resource)
        await self._emit(tx, kind, "deleted", resource, actor)

    async def accept_invitation(
        self,
        tx: Transaction,
        invitation: Resource,
        organization: Resource,
        user_id: str,
        *,
        expected_version: int | None,
        actor: str,
    ) -> tuple[Resource, Resource]:
        """The invited user joins with the invitation's scopes (or the organization's defaults):
        `membership.created` and `invitation.accepted` commit together, within the member
        limit. The user must exist in the issuer and have the invited email address, so an
        invitation cannot be redeemed by someone it was not sent to."""
        self._check_pending(invitation, expected_version)
        try:
            user = await self.store.find(tx, invitation.issuer_id, "user", user_id)
        except NotFound:
            raise Missing("user", user_id) from None
        if user.data.get("email") != invitation.data["email"]:
            raise EmailMismatch(
                f"user {user_id} does not have the invited email address; the invitation is"
                f" for {invitation.data['email']}"
            )
        fields: dict[str, Any] = {"member_id": user_id}
        if "scopes" in invitation.data:
            fields["scopes"] = invitation.data["scopes"]
        membership = await self.create(
            tx, MEMBERSHIP, invitation.issuer_id, fields, parent=organization, actor=actor
        )
        accepted = await self._close(
            tx,
            invitation,
            "accepted",
            actor,
            user_id=user_id,
            membership_id=membership.resource.id,
        )
        return accepted, membership.resource

    async def revoke_invitation(
        self, tx: Transaction, invitation: Resource, *, expected_version: int | None, actor: str
    ) -> Resource:
        self._check_pending(invitation, expected_version)
        return await self._close(tx, invitation, "revoked", actor)

    def _check_pending(
        self, invitation: Resource, expected_version: int | None, *, expiry_matters: bool = True
    ) -> None:
        if expected_version is not None and expected_version != invitation.version:
            raise Stale(invitation.id, invitation.version)
        status = str(invitation.data.get("status", "pending"))
        if status != "pending":
            raise NotPending(invitation.id, status)
        expires_at = invitation.data.get("expires_at")
        if expiry_matters and expires_at is not None and expires_at <= rfc3339(self._clock.now()):
            raise NotPending(invitation.id, "expired")

    async def _close(
        self, tx: Transaction, invitation: Resource, status: str, actor: str, **facts: str
    ) -> Resource:
        data = {**invitation.data, "status": status, f"{status}_at": rfc3339(self._clock.now())}
        closed = await self.store.update(tx, invitation, {**data, **facts})
        await self._emit_named(tx, f"invitation.{status}", closed, actor)
        return closed

    async def _dependants(self, tx: Transaction, kind: Kind, resource: Resource) -> list[Resource]:
        """What goes with a resource, innermost first."""
        store, issuer = self.store, resource.issuer_id
        if kind is ORGANIZATION:
            groups = await store.children(tx, [resource.id], ["group"])
            members = await store.children(tx, [g.id for g in groups], ["group_member"])
            direct = await store.children(
                tx, [resource.id], ["membership", "invitation", "org_api_key"]
            )
            return [*members, *groups, *direct]
        if kind is GROUP:
            return await store.children(tx, [resource.id], ["group_member"])
        if kind in (USER, AGENT):
            own = await store.children(tx, [resource.id], ["personal_token", "verifier"])
            member = ("member_id", resource.id)
            memberships = await store.referencing(tx, issuer, "membership", *member)
            in_groups = await store.referencing(tx, issuer, "group_member", *member)
            return [*own, *in_groups, *memberships]
        if kind is CLIENT:
            return await store.children(tx, [resource.id], ["verifier"])
        if kind is MEMBERSHIP:
            groups = await store.children(tx, [str(resource.parent_id)], ["group"])
            member = resource.data["member_id"]
            return [
                m
                for m in await store.children(tx, [g.id for g in groups], ["group_member"])
                if m.data["member_id"] == member
            ]
        return []

    async def _prepare_membership(
        self, tx: Transaction, issuer_id: str, organization: Resource, data: dict[str, Any]
    ) -> dict[str, Any]:
        member_id: str = data["member_id"]
        member_kind = {"usr": "user", "agt": "agent"}.get(member_id.split("_")[0])
        if member_kind is None:
            raise Unacceptable("member_id", "must name a user (usr_) or an agent (agt_)")
        try:
            await self.store.find(tx, issuer_id, member_kind, member_id)
        except NotFound:
            raise Missing(member_kind, member_id) from None
        limit = organization.data.get("member_limit")
        if limit is not None:
            count = await self.store.count(tx, issuer_id, "membership", organization.id)
            if count >= limit:
                raise LimitReached(
                    f"organization {organization.id} has reached its member limit of {limit}"
                )
        data.setdefault("scopes", list(organization.data.get("default_member_scopes", [])))
        data["member_type"] = member_kind
        return data

    async def _check_group_member(
        self, tx: Transaction, issuer_id: str, group: Resource, member_id: str
    ) -> None:
        memberships = await self.store.page(
            issuer_id,
            "membership",
            parent_id=group.parent_id,
            filters={"member_id": member_id},
            tx=tx,
        )
        if not memberships:
            raise Taken(f"{member_id} must be a member of the group's organization first")

    async def _emit(
        self,
        tx: Transaction,
        kind: Kind,
        verb: str,
        resource: Resource,
        actor: str,
        *,
        changed: list[str] | None = None,
    ) -> None:
        await self._emit_named(
            tx, f"{event_prefix(resource)}.{verb}", resource, actor, changed=changed
        )

    async def _emit_named(
        self,
        tx: Transaction,
        type: str,
        resource: Resource,
        actor: str,
        *,
        changed: list[str] | None = None,
    ) -> None:
        data: dict[str, Any] = {"id": resource.id, **resource.data}
        if resource.parent_id:
            data["parent_id"] = resource.parent_id
        if changed is not None:
            data["changed"] = changed
        await self._outbox.record(
            tx, type, resource.id, data, actor=actor, issuer_id=resource.issuer_id
        )


def event_prefix(resource: Resource) -> str:
    """`agent.verifier`, `group.member`, `api_key`, or the kind itself."""
    if resource.kind == "verifier":
        return {"agt": "agent", "c": "client"}[str(resource.parent_id).split("_")[0]] + ".verifier"
    return {"group_member": "group.member", "org_api_key": "api_key"}.get(
        resource.kind, resource.kind
    )


def _prepare_client(data: dict[str, Any]) -> dict[str, Any]:
    client_type = data["type"]
    grants = data.get("grant_types") or list(_GRANTS_BY_TYPE[client_type])
    if client_type == "m2m":
        if data.get("redirect_uris"):
            raise Unacceptable("redirect_uris", "must be empty for an m2m client")
        if set(grants) - {"client_credentials"}:
            raise Unacceptable("grant_types", "of an m2m client can only be client_credentials")
    else:
        if not data.get("redirect_uris"):
            raise Unacceptable("redirect_uris", f"are required for a {client_type} client")
        if "client_credentials" in grants:
            raise Unacceptable(
                "grant_types", f"of a {client_type} client exclude client_credentials"
            )
    return {**data, "grant_types": grants}


def _check_verifier(data: Mapping[str, Any]) -> None:
    has_jwk, has_uri = "jwk" in data, "jwks_uri" in data
    if data["type"] == "secret":
        if has_jwk or has_uri:
            raise Unacceptable("type", "secret takes neither jwk nor jwks_uri")
        return
    if has_jwk == has_uri:
        raise Unacceptable("jwk", "or jwks_uri, exactly one, is required for a public_key")


def _taken_message(kind: Kind, exc: Conflict) -> str:
    for index, message in kind.unique.items():
        if index in str(exc):
            return message
    return f"the {kind.name.replace('_', ' ')} conflicts with an existing one"
