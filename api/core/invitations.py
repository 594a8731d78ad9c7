"""Core API: what happens to an invitation, `POST .../invitations/{invitation_id}/accept` and
`.../revoke`.

Accepting makes the invited user a member with the invitation's scopes (or the
organization's default member scopes), within the member limit; the user must exist in the
issuer and have the invited email address. Revoking withdraws it. Either closes it for good:
an invitation that was accepted, revoked or has expired answers 409 `invitation-not-pending`
with its `invitation_status`. Both take `Idempotency-Key` (a retry replays the first answer)
and `If-Match`, and commit their events (`invitation.accepted` with `membership.created`, or
`invitation.revoked`) in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.body import read_optional_json_object
from api.core import conventions
from api.core.crud import (
    Context,
    Operation,
    collection_path,
    context,
    find_item,
    graph_problem,
    represent,
)
from api.core.graph import GraphError
from api.core.kinds import INVITATION, ORGANIZATION
from api.json import json_response
from api.problems import ServiceUnavailable
from api.schema import Schema, String
from shards.database import Transaction
from shards.errors import StorageError
from shards.idempotency import StoredResponse
from shards.resources import Resource

ITEM: Final = f"{collection_path(INVITATION)}/{{invitation_id}}"
ACCEPT_INVITATION: Final = Schema(
    "InvitationAccept",
    {
        "user_id": String(
            "The user who accepts: a user of the issuer with the invited email address.",
            max_length=40,
            format="user-id",
            example="usr_01jd8k2v6m4q9x7c3n5b8r2t0w",
        )
    },
    required=frozenset({"user_id"}),
)
REVOKE_INVITATION: Final = Schema("InvitationRevoke", {})

Action = Callable[[Context, Transaction, Resource, dict[str, str], int | None], Awaitable[Resource]]


async def _accept(
    ctx: Context,
    tx: Transaction,
    invitation: Resource,
    fields: dict[str, str],
    expected: int | None,
) -> Resource:
    organization = await ctx.shard.resources.find(
        tx, ctx.issuer_id, ORGANIZATION.name, str(invitation.parent_id)
    )
    accepted, _ = await ctx.graph.accept_invitation(
        tx,
        invitation,
        organization,
        fields["user_id"],
        expected_version=expected,
        actor=ctx.principal.key_id,
    )
    return accepted


async def _revoke(
    ctx: Context,
    tx: Transaction,
    invitation: Resource,
    fields: dict[str, str],
    expected: int | None,
) -> Resource:
    return await ctx.graph.revoke_invitation(
        tx, invitation, expected_version=expected, actor=ctx.principal.key_id
    )


def _handler(schema: Schema, action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        ctx = await context(request, INVITATION, write=True)
        key = conventions.idempotency_key(request)
        document = await read_optional_json_object(request)
        fields = schema.validate(document)
        expected = conventions.expected_version(request)
        scope = f"{ctx.principal.key_id}:{ctx.issuer_id}"
        print_ = conventions.fingerprint("POST", request.url.path, orjson.dumps(document))
        try:
            async with ctx.shard.database.transaction() as tx:
                earlier = await conventions.earlier_reply(
                    ctx.shard.idempotency, tx, scope, key, print_
                )
                if earlier is not None:
                    return earlier
                invitation = await find_item(ctx, INVITATION, request, tx)
                closed = await action(ctx, tx, invitation, fields, expected)
                body = represent(INVITATION, closed)
                headers = {"ETag": conventions.etag(closed.version)}
                if key is not None:
                    await ctx.shard.idempotency.store(
                        tx, scope, key, StoredResponse(print_, 200, headers, orjson.dumps(body))
                    )
        except GraphError as exc:
            raise graph_problem(exc) from exc
        except StorageError as exc:
            raise ServiceUnavailable("the invitation could not be changed; retry") from exc
        return json_response(body, headers=headers)

    return handle


OPERATIONS: Final = [
    Operation(
        "POST",
        f"{ITEM}/accept",
        "acceptOrganizationInvitation",
        "Accept an invitation",
        f"{INVITATION.scope}:write",
        _handler(ACCEPT_INVITATION, _accept),
        INVITATION,
        "accept",
    ),
    Operation(
        "POST",
        f"{ITEM}/revoke",
        "revokeOrganizationInvitation",
        "Revoke an invitation",
        f"{INVITATION.scope}:write",
        _handler(REVOKE_INVITATION, _revoke),
        INVITATION,
        "revoke",
    ),
]
