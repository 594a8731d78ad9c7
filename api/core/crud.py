"""Create, list, read, update and delete for every kind in `api.core.kinds`, with every
convention: home-region routing, API key scopes and reach, idempotency keys, ETags and
conditional requests, cursor pagination, problem details. One set of handlers serves all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.body import parse_json_object, read_json_body
from api.core import conventions
from api.core.access import Principal, issuer_principal
from api.core.graph import (
    Created,
    EmailMismatch,
    Graph,
    GraphError,
    LimitReached,
    Missing,
    NotPending,
    Stale,
    Taken,
    Unacceptable,
)
from api.core.kinds import KINDS, Kind
from api.json import json_response
from api.problems import (
    ConflictProblem,
    InvitationEmailMismatch,
    InvitationNotPending,
    LimitReachedProblem,
    NotFoundProblem,
    PreconditionFailed,
    Problem,
    ServiceUnavailable,
    ValidationFailed,
)
from runtime.node import Node
from shards.database import Transaction
from shards.errors import NotFound, StorageError
from shards.idempotency import StoredResponse
from shards.ids import is_id
from shards.resources import Resource
from shards.shard import Shard

ISSUER_PATH: Final = "/v1/accounts/{account_id}/issuers/{issuer_id}"
KIND_BY_NAME: Final = {kind.name: kind for kind in KINDS if kind.name != "verifier"}
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Operation:
    """One HTTP operation: its route, its OpenAPI description and its handler."""

    method: str
    path: str
    operation_id: str
    summary: str
    scope: str
    handler: Handler
    kind: Kind | None = None
    action: str = ""


@dataclass(frozen=True, slots=True)
class Context:
    node: Node
    shard: Shard
    graph: Graph
    principal: Principal
    issuer_id: str


def ancestry(kind: Kind) -> list[Kind]:
    """The kinds whose ids appear in this kind's path, outermost first."""
    chain: list[Kind] = []
    parent = kind.parent
    while parent is not None:
        ancestor = KIND_BY_NAME[parent]
        chain.insert(0, ancestor)
        parent = ancestor.parent
    return chain


def collection_path(kind: Kind) -> str:
    path = ISSUER_PATH
    for ancestor in ancestry(kind):
        path += f"/{ancestor.plural}/{{{ancestor.name}_id}}"
    return f"{path}/{kind.plural}"


def item_param(kind: Kind) -> str:
    return f"{kind.name}_id"


def represent(kind: Kind, resource: Resource, created: Created | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"object": kind.name, "id": resource.id}
    if kind.parent_param is not None:
        body[kind.parent_param] = resource.parent_id
    ordered = [name for name in kind.create.fields if name in resource.data]
    body.update((name, resource.data[name]) for name in ordered)
    body.update((k, v) for k, v in resource.data.items() if k not in body)
    body["created_at"] = resource.created_at
    body["updated_at"] = resource.updated_at
    if created is not None and created.token is not None:
        body["secret"] = created.token
    return body


async def context(request: Request, kind: Kind, write: bool) -> Context:
    node: Node = request.app.state.node
    params = request.path_params
    principal, placement = await issuer_principal(
        request, node, params["account_id"], params["issuer_id"]
    )
    principal.require(f"{kind.scope}:{'write' if write else 'read'}")
    principal.reach(params.get("organization_id"))
    try:
        shard = node.shards.get(placement.shard_id)
    except NotFound as exc:
        raise ServiceUnavailable(f"the shard of issuer {placement.issuer_id} is not open") from exc
    graph = Graph(shard.resources, shard.outbox, node.clock)
    return Context(node, shard, graph, principal, placement.issuer_id)


async def find_parent(
    ctx: Context, kind: Kind, request: Request, tx: Transaction | None
) -> Resource | None:
    """Check every ancestor named in the path exists and contains the next; return the last."""
    parent: Resource | None = None
    for ancestor in ancestry(kind):
        ancestor_id = request.path_params[f"{ancestor.name}_id"]
        if not is_id(ancestor_id, ancestor.prefix):
            raise NotFoundProblem(f"{ancestor.title.lower()} {ancestor_id} not found")
        try:
            found = await ctx.shard.resources.find(tx, ctx.issuer_id, ancestor.name, ancestor_id)
        except NotFound:
            raise NotFoundProblem(f"{ancestor.title.lower()} {ancestor_id} not found") from None
        if parent is not None and found.parent_id != parent.id:
            raise NotFoundProblem(f"{ancestor.title.lower()} {ancestor_id} not found")
        parent = found
    return parent


async def find_item(ctx: Context, kind: Kind, request: Request, tx: Transaction | None) -> Resource:
    parent = await find_parent(ctx, kind, request, tx)
    item_id = request.path_params[item_param(kind)]
    if not is_id(item_id, kind.prefix):
        raise NotFoundProblem(f"{kind.title.lower()} {item_id} not found")
    try:
        resource = await ctx.shard.resources.find(tx, ctx.issuer_id, kind.name, item_id)
    except NotFound:
        raise NotFoundProblem(f"{kind.title.lower()} {item_id} not found") from None
    if parent is not None and resource.parent_id != parent.id:
        raise NotFoundProblem(f"{kind.title.lower()} {item_id} not found")
    return resource


def graph_problem(exc: GraphError) -> Problem:
    if isinstance(exc, Missing):
        return NotFoundProblem(str(exc))
    if isinstance(exc, Taken):
        return ConflictProblem(str(exc))
    if isinstance(exc, LimitReached):
        return LimitReachedProblem(str(exc))
    if isinstance(exc, Stale):
        return PreconditionFailed(str(exc), headers={"ETag": conventions.etag(exc.version)})
    if isinstance(exc, Unacceptable):
        return ValidationFailed([{"field": exc.field, "message": exc.message}])
    if isinstance(exc, NotPending):
        return InvitationNotPending(str(exc), exc.status)
    if isinstance(exc, EmailMismatch):
        return InvitationEmailMismatch(str(exc))
    raise AssertionError(f"unmapped graph error {exc!r}")


def handlers(kind: Kind) -> list[Operation]:
    collection, item = collection_path(kind), f"{collection_path(kind)}/{{{item_param(kind)}}}"
    noun = kind.title.lower()
    ident = kind.title.replace(" ", "")
    plural_ident = ident + ("s" if not ident.endswith("s") else "")
    prefix = "".join(a.title.replace(" ", "") for a in ancestry(kind))

    async def create(request: Request) -> Response:
        ctx = await context(request, kind, write=True)
        key = conventions.idempotency_key(request)
        raw = await read_json_body(request)
        fields = kind.create.validate(parse_json_object(raw))
        if kind.name == "org_api_key":
            ctx.principal.grantable(fields.get("scopes") or [])
        scope = f"{ctx.principal.key_id}:{ctx.issuer_id}"
        print_ = conventions.fingerprint("POST", request.url.path, raw)
        try:
            async with ctx.shard.database.transaction() as tx:
                earlier = await conventions.earlier_reply(
                    ctx.shard.idempotency, tx, scope, key, print_
                )
                if earlier is not None:
                    return earlier
                parent = await find_parent(ctx, kind, request, tx)
                created = await ctx.graph.create(
                    tx, kind, ctx.issuer_id, fields, parent=parent, actor=ctx.principal.key_id
                )
                body = represent(kind, created.resource, created)
                headers = {
                    "ETag": conventions.etag(created.resource.version),
                    "Location": f"{request.url.path}/{created.resource.id}",
                }
                if key is not None:
                    kept = {k: v for k, v in body.items() if k != "secret"}  # secrets: shown once
                    await ctx.shard.idempotency.store(
                        tx, scope, key, StoredResponse(print_, 201, headers, orjson.dumps(kept))
                    )
        except GraphError as exc:
            raise graph_problem(exc) from exc
        except StorageError as exc:
            raise ServiceUnavailable(f"the {noun} could not be stored; retry") from exc
        return json_response(body, status_code=201, headers=headers)

    async def list_(request: Request) -> Response:
        ctx = await context(request, kind, write=False)
        query = conventions.list_query(request.query_params, kind.filters, enums=kind.filter_values)
        if "email" in query.filters:  # stored lowercased: compared without case
            query.filters["email"] = query.filters["email"].lower()
        parent = await find_parent(ctx, kind, request, None)
        page = await ctx.shard.resources.page(
            ctx.issuer_id,
            kind.name,
            parent_id=parent.id if parent else None,
            after=query.after,
            limit=query.limit + 1,
            filters=query.filters,
        )
        return conventions.page_response(page, query.limit, lambda r: represent(kind, r))

    async def read(request: Request) -> Response:
        ctx = await context(request, kind, write=False)
        resource = await find_item(ctx, kind, request, None)
        tag = conventions.etag(resource.version)
        if conventions.not_modified(request, tag):
            return Response(status_code=304, headers={"ETag": tag})
        return json_response(represent(kind, resource), headers={"ETag": tag})

    async def update(request: Request) -> Response:
        ctx = await context(request, kind, write=True)
        fields = kind.update.validate(parse_json_object(await read_json_body(request)))
        try:
            async with ctx.shard.database.transaction() as tx:
                resource = await find_item(ctx, kind, request, tx)
                expected = conventions.expected_version(request)
                updated = await ctx.graph.update_checked(
                    tx,
                    kind,
                    resource,
                    fields,
                    expected_version=expected,
                    actor=ctx.principal.key_id,
                )
        except GraphError as exc:
            raise graph_problem(exc) from exc
        return json_response(
            represent(kind, updated), headers={"ETag": conventions.etag(updated.version)}
        )

    async def delete(request: Request) -> Response:
        ctx = await context(request, kind, write=True)
        try:
            async with ctx.shard.database.transaction() as tx:
                resource = await find_item(ctx, kind, request, tx)
                expected = conventions.expected_version(request)
                await ctx.graph.delete(
                    tx, kind, resource, expected_version=expected, actor=ctx.principal.key_id
                )
        except GraphError as exc:
            raise graph_problem(exc) from exc
        return Response(status_code=204)

    read_scope, write_scope = f"{kind.scope}:read", f"{kind.scope}:write"
    operations = [
        Operation("POST", collection, f"create{prefix}{ident}", f"Create a {noun}",
                  write_scope, create, kind, "create"),
        Operation("GET", collection, f"list{prefix}{plural_ident}", f"List {noun}s",
                  read_scope, list_, kind, "list"),
        Operation("GET", item, f"get{prefix}{ident}", f"Get a {noun}", read_scope, read, kind,
                  "get"),
        Operation("DELETE", item, f"delete{prefix}{ident}", f"Delete a {noun}", write_scope,
                  delete, kind, "delete"),
    ]  # fmt: skip
    if kind.updatable:
        operations.append(
            Operation(
                "PATCH",
                item,
                f"update{prefix}{ident}",
                f"Update a {noun}",
                write_scope,
                update,
                kind,
                "update",
            )
        )
    return operations


OPERATIONS: Final = [operation for kind in KINDS for operation in handlers(kind)]
