"""Node-to-node endpoints under `/_internal/v1`, authenticated with the mesh secret.

The primary serves the directory's non-personal part to every other node, records the
placement of issuers that other regions' nodes create, mirrors their names, status and
settings when they change at home, removes deleted ones, and takes the batched times at
which nodes saw account API keys used. The public proxy never forwards
`/_internal/` paths; the mesh secret guards them where a proxy does.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from api.body import read_json_object
from api.json import json_response
from api.problems import (
    Forbidden,
    NotFoundProblem,
    Problem,
    Unauthenticated,
    ValidationFailed,
)
from api.schema import Integer, Schema, String
from ops.placement import PlacementError, check_in_jurisdiction
from regions import RegionError
from runtime.node import Node
from shards.errors import Conflict, NotFound
from shards.idempotency import IdempotentCreate, KeyTaken, StoredResponse
from shards.issuers import IssuerConfig
from shards.outbox import SYSTEM_ACTOR


class Conflicting(Problem):
    status, slug, title = 409, "conflict", "Conflict"


REGISTER_ISSUER = Schema(
    "IssuerRegistration",
    {
        "issuer_id": String(max_length=40),
        "account_id": String(max_length=40),
        "name": String(max_length=200),
        "jurisdiction": String(max_length=8),
        "shard_id": String(max_length=40),
        "actor": String(max_length=40),
        "created_at": String(max_length=40, format="date-time"),
    },
    required=frozenset({"issuer_id", "account_id", "name", "jurisdiction", "shard_id", "actor"}),
)
DISABLE_WEBHOOK = Schema(
    "WebhookDisabling",
    {
        "reason": String(max_length=2000),
        "version": Integer(minimum=1),
    },
    required=frozenset({"reason", "version"}),
)
REMOVE_ISSUER = Schema(
    "IssuerRemoval", {"actor": String(max_length=40)}, required=frozenset({"actor"})
)


def _check_secret(request: Request, node: Node) -> None:
    secret = node.settings.mesh_secret
    presented = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
    if secret is None or not hmac.compare_digest(presented, secret.encode()):
        raise Unauthenticated("node-to-node calls need the mesh secret")


def _primary(node: Node) -> None:
    if node.directory is None:
        raise NotFoundProblem("the directory is served by the primary region")


async def directory_snapshot(request: Request) -> Response:
    node: Node = request.app.state.node
    _check_secret(request, node)
    _primary(node)
    assert node.directory is not None
    snapshot = await node.directory.snapshot()
    etag = f'"{snapshot.version}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return json_response(snapshot.to_json(), headers={"ETag": etag, "Cache-Control": "no-store"})


async def register_issuer(request: Request) -> Response:
    node: Node = request.app.state.node
    _check_secret(request, node)
    _primary(node)
    assert node.directory is not None
    document = dict(await read_json_object(request))
    idempotency = document.pop("idempotency", None)
    fields = REGISTER_ISSUER.validate(document)
    idempotent = None
    if idempotency is not None:
        try:
            idempotent = IdempotentCreate(
                str(idempotency["scope"]),
                str(idempotency["key"]),
                StoredResponse.from_json(idempotency["response"]),
            )
        except (KeyError, TypeError, ValueError, AssertionError) as exc:
            raise ValidationFailed([{"field": "idempotency", "message": str(exc)}]) from exc
    try:
        shard = await node.directory.shard(fields["shard_id"])
        check_in_jurisdiction(shard.region, fields["jurisdiction"])
        placement = await node.directory.register_issuer(
            fields["issuer_id"],
            fields["account_id"],
            fields["jurisdiction"],
            shard,
            name=fields["name"],
            created_at=fields.get("created_at"),
            actor=fields["actor"],
            idempotent=idempotent,
        )
    except KeyTaken as exc:
        return json_response({"stored": exc.stored.to_json()}, status_code=409)
    except NotFound as exc:
        raise NotFoundProblem(str(exc)) from exc
    except (PlacementError, RegionError) as exc:
        raise Forbidden(str(exc)) from exc
    except Conflict as exc:
        raise Conflicting(str(exc)) from exc
    return json_response(asdict(placement), status_code=201)


async def edge_snapshot(request: Request) -> Response:
    """An issuer's edge snapshot, from its home node, conditional on the version held."""
    node: Node = request.app.state.node
    _check_secret(request, node)
    issuer_id = request.path_params["issuer_id"]
    placement = await node.placement(issuer_id)
    if placement is None or placement.home_region != node.region:
        raise NotFoundProblem(f"issuer {issuer_id} is not homed here")
    shard = node.shards.get(placement.shard_id)
    version = await shard.edge.version(issuer_id)
    if request.headers.get("if-none-match") == f'"{version}"':
        return Response(status_code=304, headers={"ETag": f'"{version}"'})
    document = await shard.edge.snapshot(issuer_id)
    if document is None:
        raise NotFoundProblem(f"issuer {issuer_id} is not homed here")
    return json_response(
        document, headers={"ETag": f'"{document["version"]}"', "Cache-Control": "no-store"}
    )


async def edge_changed(request: Request) -> Response:
    """A home node's push: these issuers' edge versions moved."""
    node: Node = request.app.state.node
    _check_secret(request, node)
    document = await read_json_object(request)
    changes = document.get("changes")
    if not isinstance(changes, list):
        raise Conflicting("changes must be a list")
    node.edge.changed(
        [
            (str(item[0]), int(item[1]))
            for item in changes
            if isinstance(item, list) and len(item) == 2 and isinstance(item[1], int)
        ]
    )
    return Response(status_code=204)


async def oauth_seen(request: Request) -> Response:
    """A peer's news: client assertion and DPoP proof `jti`s it saw used, by set name, each
    `[key, expires_at]`. Recorded as used here too (api/oauth/replay.py)."""
    node: Node = request.app.state.node
    _check_secret(request, node)
    document = await read_json_object(request)
    sets = request.app.state.oauth.seen
    now = node.clock.now().timestamp()
    for name, entries in document.items():
        seen = sets.get(name)
        if seen is None or not isinstance(entries, list):
            raise Conflicting(f"{name} is not a replay set of this node")
        for entry in entries:
            if (
                isinstance(entry, list)
                and len(entry) == 2
                and isinstance(entry[0], str)
                and isinstance(entry[1], int | float)
            ):
                seen.learn(entry[0], float(entry[1]), now)
    return Response(status_code=204)


async def edge_versions(request: Request) -> Response:
    """The current edge version of each named issuer homed here (null if not here)."""
    node: Node = request.app.state.node
    _check_secret(request, node)
    document = await read_json_object(request)
    issuers = document.get("issuers")
    if not isinstance(issuers, list):
        raise Conflicting("issuers must be a list")
    versions: dict[str, int | None] = {}
    for issuer_id in issuers[:10_000]:
        if not isinstance(issuer_id, str):
            continue
        placement = await node.placement(issuer_id)
        if placement is None or placement.home_region != node.region:
            versions[issuer_id] = None
        else:
            versions[issuer_id] = await node.shards.get(placement.shard_id).edge.version(issuer_id)
    return json_response({"versions": versions}, headers={"Cache-Control": "no-store"})


async def list_issuer(request: Request) -> Response:
    """`PUT /_internal/v1/issuers/{issuer_id}`: the issuer as its home shard now has it."""
    node: Node = request.app.state.node
    _check_secret(request, node)
    _primary(node)
    assert node.directory is not None
    document = await read_json_object(request)
    try:
        issuer = IssuerConfig(**document)
    except TypeError as exc:
        raise ValidationFailed([{"field": "$", "message": str(exc)}]) from exc
    if issuer.id != request.path_params["issuer_id"]:
        raise ValidationFailed([{"field": "id", "message": "must be the issuer of the path"}])
    if not await node.directory.list_issuer(issuer):
        raise NotFoundProblem(f"issuer {issuer.id} not found")
    return Response(status_code=204)


async def remove_issuer(request: Request) -> Response:
    """`POST /_internal/v1/issuers/{issuer_id}/delete`: stop placing a deleted issuer."""
    node: Node = request.app.state.node
    _check_secret(request, node)
    _primary(node)
    assert node.directory is not None
    fields = REMOVE_ISSUER.validate(await read_json_object(request))
    try:
        await node.directory.remove_issuer(request.path_params["issuer_id"], actor=fields["actor"])
    except NotFound as exc:
        raise NotFoundProblem(str(exc)) from exc
    return Response(status_code=204)


async def record_key_usage(request: Request) -> Response:
    """`POST /_internal/v1/api_keys/usage`: `{"usage": {key id: time last seen}}`."""
    node: Node = request.app.state.node
    _check_secret(request, node)
    _primary(node)
    assert node.directory is not None
    usage = (await read_json_object(request)).get("usage")
    if not isinstance(usage, dict):
        raise ValidationFailed([{"field": "usage", "message": "must be an object"}])
    seen: dict[str, datetime] = {}
    for key_id, moment in usage.items():
        try:
            seen[key_id] = datetime.fromisoformat(str(moment))
        except ValueError:
            raise ValidationFailed(
                [{"field": f"usage.{key_id}", "message": "must be an RFC 3339 time"}]
            ) from None
    await node.directory.keys.record_usage(seen)
    return Response(status_code=204)


async def stored_response(request: Request) -> Response:
    """`POST /_internal/v1/idempotency`: the stored response of an account-level create."""
    node: Node = request.app.state.node
    _check_secret(request, node)
    _primary(node)
    assert node.directory is not None
    document = await read_json_object(request)
    scope, key = document.get("scope"), document.get("key")
    if not isinstance(scope, str) or not isinstance(key, str):
        raise ValidationFailed([{"field": "scope", "message": "scope and key are strings"}])
    stored = await node.directory.stored_response(scope, key)
    return json_response(
        {"stored": None if stored is None else stored.to_json()},
        headers={"Cache-Control": "no-store"},
    )


async def disable_webhook(request: Request) -> Response:
    """A home node gave up delivering to a subscription: the primary disables it."""
    node: Node = request.app.state.node
    _check_secret(request, node)
    _primary(node)
    assert node.directory is not None
    fields = DISABLE_WEBHOOK.validate(await read_json_object(request))
    disabled = await node.directory.webhooks.disable(
        request.path_params["webhook_id"],
        fields["reason"],
        failing_version=fields["version"],
        actor=SYSTEM_ACTOR,
    )
    if disabled is None:
        raise NotFoundProblem(f"webhook {request.path_params['webhook_id']} not found")
    await node.refresh_replica()
    return Response(status_code=204)
