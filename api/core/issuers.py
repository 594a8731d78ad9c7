"""Core API: issuers. `POST /v1/accounts/{account_id}/issuers` and `GET .../issuers/{id}`.

Creating an issuer is home work for the region it will live in: the node where the request
lands authenticates it and chooses the home region (the one asked for, or the region of the
jurisdiction nearest to where the request entered), and replays it there unless it is that
region. The home node writes the issuer to its shard with `issuer.created` in the same
transaction, then records the placement in the directory.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from api.auth import authenticate, authorize
from api.body import read_json_object
from api.json import json_response
from api.problems import (
    NoShardProblem,
    NotFoundProblem,
    OutOfJurisdictionProblem,
    ServiceUnavailable,
    ValidationFailed,
)
from api.schema import Schema, String
from ops.placement import NoShardAvailable, OutOfJurisdiction, choose_home_region, choose_shard
from regions import JURISDICTIONS, REGIONS, RegionError, jurisdiction, region, regions_in
from runtime.node import Node, PeerError
from runtime.routing import ensure_region
from shards.errors import StorageError
from shards.ids import new_id
from shards.issuers import IssuerConfig
from shards.records import ApiKey

log = logging.getLogger("authpi.api.issuers")

CREATE_ISSUER: Final = Schema(
    "IssuerCreate",
    {
        "name": String("A name for your own reference.", max_length=200, example="Acme EU"),
        "jurisdiction": String(
            "Where the issuer's data lives, for good.",
            enum=tuple(sorted(JURISDICTIONS)),
            example="eu",
        ),
        "home_region": String(
            "A region of the jurisdiction; by default the one nearest to the caller.",
            enum=tuple(sorted(REGIONS)),
            example="fra",
        ),
    },
    required=frozenset({"name", "jurisdiction"}),
    rules=tuple(
        {
            "if": {"properties": {"jurisdiction": {"const": code}}, "required": ["jurisdiction"]},
            "then": {
                "properties": {
                    "home_region": {
                        "anyOf": [
                            {"enum": [r.code for r in regions_in(code)]},
                            {"type": "null"},
                        ]
                    }
                }
            },
        }
        for code in sorted(JURISDICTIONS)
    ),
)


async def create_issuer(request: Request) -> Response:
    node: Node = request.app.state.node
    account_id = request.path_params["account_id"]
    key = await _key(request, node, account_id, "issuers:write")
    fields = CREATE_ISSUER.validate(await read_json_object(request))
    try:
        chosen_jurisdiction = jurisdiction(fields["jurisdiction"]).code
    except RegionError as exc:
        raise ValidationFailed([{"field": "jurisdiction", "message": str(exc)}]) from exc
    requested = fields.get("home_region")
    try:
        if requested is not None:
            requested = region(requested).code
        home = choose_home_region(
            node.replica.snapshot,
            chosen_jurisdiction,
            requested=requested,
            entry_region=node.entry_region(request),
        )
    except RegionError as exc:
        raise ValidationFailed([{"field": "home_region", "message": str(exc)}]) from exc
    except OutOfJurisdiction as exc:
        raise OutOfJurisdictionProblem(
            str(exc), extensions={"jurisdiction": exc.jurisdiction, "allowed_regions": exc.allowed}
        ) from exc
    except NoShardAvailable as exc:
        raise NoShardProblem(str(exc), extensions={"jurisdiction": exc.jurisdiction}) from exc
    ensure_region(home, node.region)

    shard_record = choose_shard(node.replica.snapshot, home)
    shard = node.shards.get(shard_record.id)
    issuer_id = new_id("i")
    try:
        issuer = await shard.issuers.create(
            issuer_id, account_id, fields["name"], chosen_jurisdiction, home, actor=key.id
        )
    except StorageError as exc:
        log.error("issuer create failed on shard %s: %s", shard.id, exc)
        raise ServiceUnavailable("the issuer could not be stored; retry") from exc
    try:
        await node.register_issuer(issuer_id, account_id, chosen_jurisdiction, shard_record, key.id)
    except (PeerError, StorageError) as exc:
        log.error("issuer %s placement failed, withdrawing it: %s", issuer_id, exc)
        await shard.issuers.withdraw(issuer_id)
        raise ServiceUnavailable("the issuer could not be registered; retry") from exc
    return json_response(
        _representation(issuer, node),
        status_code=201,
        headers={"Location": f"/v1/accounts/{account_id}/issuers/{issuer_id}"},
    )


async def get_issuer(request: Request) -> Response:
    node: Node = request.app.state.node
    account_id = request.path_params["account_id"]
    issuer_id = request.path_params["issuer_id"]
    await _key(request, node, account_id, "issuers:read")
    placement = await node.placement(issuer_id)
    if placement is None or placement.account_id != account_id:
        raise NotFoundProblem(f"issuer {issuer_id} not found in account {account_id}")
    ensure_region(placement.home_region, node.region)
    try:
        issuer = await node.shards.get(placement.shard_id).issuers.get(issuer_id)
    except StorageError as exc:
        raise ServiceUnavailable(f"issuer {issuer_id} could not be read; retry") from exc
    return json_response(_representation(issuer, node))


async def _key(request: Request, node: Node, account_id: str, scope: str) -> ApiKey:
    key = await authenticate(
        request, node.replica, now=node.clock.now(), client_ip=node.client_ip(request)
    )
    authorize(key, account_id, scope)
    return key


def _representation(issuer: IssuerConfig, node: Node) -> dict[str, Any]:
    return {
        "object": "issuer",
        "id": issuer.id,
        "account_id": issuer.account_id,
        "name": issuer.name,
        "jurisdiction": issuer.jurisdiction,
        "home_region": issuer.home_region,
        "issuer_url": f"{node.settings.public_url}/{issuer.id}",
        "created_at": issuer.created_at,
        "updated_at": issuer.updated_at,
    }
