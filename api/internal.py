"""Node-to-node endpoints under `/_internal/v1`, authenticated with the mesh secret.

The primary serves the directory's non-personal part to every other node, and records the
placement of issuers that other regions' nodes create. The public proxy never forwards
`/_internal/` paths; the mesh secret guards them where a proxy does.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import Response

from api.body import read_json_object
from api.json import json_response
from api.problems import Forbidden, NotFoundProblem, Problem, Unauthenticated
from api.schema import Schema, String
from ops.placement import PlacementError, check_in_jurisdiction
from regions import RegionError
from runtime.node import Node
from shards.errors import Conflict, NotFound


class Conflicting(Problem):
    status, slug, title = 409, "conflict", "Conflict"


REGISTER_ISSUER = Schema(
    "IssuerRegistration",
    {
        "issuer_id": String(max_length=40),
        "account_id": String(max_length=40),
        "jurisdiction": String(max_length=8),
        "shard_id": String(max_length=40),
        "actor": String(max_length=40),
    },
    required=frozenset({"issuer_id", "account_id", "jurisdiction", "shard_id", "actor"}),
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
    fields = REGISTER_ISSUER.validate(await read_json_object(request))
    try:
        shard = await node.directory.shard(fields["shard_id"])
        check_in_jurisdiction(shard.region, fields["jurisdiction"])
        placement = await node.directory.register_issuer(
            fields["issuer_id"],
            fields["account_id"],
            fields["jurisdiction"],
            shard,
            actor=fields["actor"],
        )
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
