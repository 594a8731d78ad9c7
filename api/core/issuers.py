"""Core API: issuers, `/v1/accounts/{account_id}/issuers[/{issuer_id}]`.

Creating an issuer is home work for the region it will live in: the node where the request
lands authenticates it and chooses the home region (the one asked for, or the region of the
jurisdiction nearest to where the request entered), and replays it there unless it is that
region. The home node writes the issuer to its shard with `issuer.created` in the same
transaction, then records the placement in the directory.

Reading, changing and deleting one issuer is home work too. A change writes the shard and
mirrors name, status and settings into the directory (on the primary, directly or through
its internal endpoint) before the shard commits, so a change the directory refused is rolled
back and nothing is stored; a deletion removes the placement (the issuer stops resolving at
every node) and every row the shard holds of the issuer, with `issuer.deleted` in the
directory's outbox. The list of an account's issuers is answered at the primary, from the
directory: names and settings are not personal data.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.auth import authenticate, authorize
from api.body import parse_json_object, read_json_body
from api.core import conventions
from api.core.access import Principal, account_principal, primary_principal
from api.json import json_response
from api.problems import (
    NoShardProblem,
    NotFoundProblem,
    OutOfJurisdictionProblem,
    ServiceUnavailable,
    ValidationFailed,
)
from api.schema import Integer, Object, Schema, String
from ops.placement import NoShardAvailable, OutOfJurisdiction, choose_home_region, choose_shard
from regions import JURISDICTIONS, REGIONS, RegionError, jurisdiction, region, regions_in
from runtime.node import Node, PeerError
from runtime.routing import ensure_region
from shards.errors import NotFound, StorageError
from shards.idempotency import IdempotentCreate, KeyTaken, StoredResponse
from shards.ids import new_id
from shards.issuers import DEFAULT_SETTINGS, SIGNING_ALGS, IssuerConfig
from shards.records import ApiKey, Placement
from shards.resources import VersionMismatch
from shards.shard import Shard

log = logging.getLogger("authpi.api.issuers")

COLLECTION: Final = "/v1/accounts/{account_id}/issuers"
ITEM: Final = COLLECTION + "/{issuer_id}"
STATUSES: Final = ("active", "disabled")
LIFETIME_NOTE: Final = "Seconds."
SETTINGS: Final = Schema(
    "IssuerSettings",
    {
        "access_token_lifetime": Integer(
            "Seconds; a client may ask for less, never more.",
            minimum=60,
            maximum=86_400,
            example=3600,
        ),
        "id_token_lifetime": Integer(LIFETIME_NOTE, minimum=60, maximum=86_400, example=3600),
        "refresh_token_lifetime": Integer(
            LIFETIME_NOTE, minimum=3600, maximum=365 * 86_400, example=30 * 86_400
        ),
        "agent_token_lifetime_max": Integer(
            "Seconds; caps every agent's own token_lifetime.", minimum=30, maximum=3600, example=900
        ),
        "access_token_signing_alg": String("How access tokens are signed.", enum=SIGNING_ALGS),
        "id_token_signing_alg": String("How ID tokens are signed.", enum=SIGNING_ALGS),
        "default_audience": String(
            "`aud` of tokens requested without `resource`; null: the issuer URL.",
            max_length=2000,
            format="https-uri",
            example="https://api.example.com",
        ),
    },
    description="A null member resets that setting to its default.",
)
_FIXED: Final = (
    "cannot be changed: an issuer's data stays in its jurisdiction for good, and an operator"
    " moves it between regions (`authpi ops issuers place`)"
)
UPDATE_ISSUER: Final = Schema(
    "IssuerUpdate",
    {
        "name": String("A name for your own reference.", max_length=200, example="Acme EU"),
        "status": String(
            "active, or disabled: the issuer stops answering its OpenID Connect endpoints.",
            enum=STATUSES,
        ),
        "settings": Object(SETTINGS, "Only the members sent change; null resets all."),
    },
    not_null=frozenset({"name", "status"}),
    fixed={"jurisdiction": _FIXED, "home_region": _FIXED, "id": "cannot be changed"},
)

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
    idempotency_key = conventions.idempotency_key(request)
    raw = await read_json_body(request)
    fields = CREATE_ISSUER.validate(parse_json_object(raw))
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

    # An idempotency key is kept in the directory, so a retry is recognised wherever it lands.
    scope = f"{key.id}:{account_id}:issuers"
    fingerprint = conventions.fingerprint("POST", request.url.path, raw)
    if idempotency_key is not None:
        try:
            stored = await node.stored_response(scope, idempotency_key)
        except (PeerError, StorageError) as exc:
            raise ServiceUnavailable("the idempotency key could not be checked; retry") from exc
        if stored is not None:
            return conventions.checked_replay(stored, fingerprint, idempotency_key)

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
    body = represent(issuer, node)
    headers = {
        "Location": f"/v1/accounts/{account_id}/issuers/{issuer_id}",
        "ETag": conventions.etag(issuer.version),
    }
    idempotent = None
    if idempotency_key is not None:
        stored = StoredResponse(fingerprint, 201, headers, orjson.dumps(body))
        idempotent = IdempotentCreate(scope, idempotency_key, stored)
    try:
        await node.register_issuer(
            issuer_id,
            account_id,
            fields["name"],
            chosen_jurisdiction,
            shard_record,
            key.id,
            issuer.created_at,
            idempotent,
        )
    except KeyTaken as exc:  # a concurrent request with the same key was registered first
        await shard.issuers.withdraw(issuer_id)
        assert idempotency_key is not None
        return conventions.checked_replay(exc.stored, fingerprint, idempotency_key)
    except (PeerError, StorageError) as exc:
        log.error("issuer %s placement failed, withdrawing it: %s", issuer_id, exc)
        await shard.issuers.withdraw(issuer_id)
        raise ServiceUnavailable("the issuer could not be registered; retry") from exc
    return json_response(body, status_code=201, headers=headers)


async def get_issuer(request: Request) -> Response:
    node, placement, _ = await _at_home(request, "issuers:read")
    issuer = await _read(node, placement)
    tag = conventions.etag(issuer.version)
    if conventions.not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return json_response(represent(issuer, node), headers={"ETag": tag})


async def list_issuers(request: Request) -> Response:
    node, directory, key = await primary_principal(request, "issuers:read")
    query = conventions.list_query(request.query_params, ("status",), enums={"status": STATUSES})
    issuers = await directory.issuer_page(
        key.account_id, after=query.after, limit=query.limit + 1, status=query.filters.get("status")
    )
    return conventions.page_response(issuers, query.limit, lambda issuer: represent(issuer, node))


async def update_issuer(request: Request) -> Response:
    node, placement, key = await _at_home(request, "issuers:write")
    fields = UPDATE_ISSUER.validate(parse_json_object(await read_json_body(request)))
    expected = conventions.expected_version(request)
    shard = _shard(node, placement)
    try:
        async with shard.database.transaction() as tx:
            issuer = await shard.issuers.get(placement.issuer_id, tx)
            settings = _merged_settings(issuer, fields)
            updated = await shard.issuers.update(
                tx,
                issuer,
                name=fields.get("name") or issuer.name,
                status=fields.get("status") or issuer.status,
                settings=settings,
                expected_version=expected,
                actor=key.key_id,
            )
            if updated is not issuer:
                await node.list_issuer(updated)
    except VersionMismatch as exc:
        raise conventions.stale(exc) from exc
    except NotFound as exc:
        raise NotFoundProblem(f"issuer {placement.issuer_id} not found") from exc
    except (PeerError, StorageError) as exc:
        log.error("issuer %s update failed: %s", placement.issuer_id, exc)
        raise ServiceUnavailable("the issuer could not be updated; retry") from exc
    if updated.status != issuer.status:
        await node.refresh_replica()
    return json_response(
        represent(updated, node), headers={"ETag": conventions.etag(updated.version)}
    )


async def delete_issuer(request: Request) -> Response:
    node, placement, key = await _at_home(request, "issuers:write")
    expected = conventions.expected_version(request)
    shard = _shard(node, placement)
    try:
        async with shard.database.transaction() as tx:
            issuer = await shard.issuers.get(placement.issuer_id, tx)
            if expected is not None and expected != issuer.version:
                raise VersionMismatch(issuer.id, expected, issuer.version)
            await shard.issuers.delete(tx, issuer.id)
            await node.remove_issuer(issuer.id, key.key_id)
    except VersionMismatch as exc:
        raise conventions.stale(exc) from exc
    except NotFound as exc:
        raise NotFoundProblem(f"issuer {placement.issuer_id} not found") from exc
    except (PeerError, StorageError) as exc:
        log.error("issuer %s deletion failed: %s", placement.issuer_id, exc)
        raise ServiceUnavailable("the issuer could not be deleted; retry") from exc
    await node.refresh_replica()
    return Response(status_code=204)


async def _key(request: Request, node: Node, account_id: str, scope: str) -> ApiKey:
    key = await authenticate(
        request, node.replica, now=node.clock.now(), client_ip=node.client_ip(request)
    )
    authorize(key, account_id, scope)
    node.key_used(key.id)
    return key


async def _at_home(request: Request, scope: str) -> tuple[Node, Placement, Principal]:
    """Authenticate for one issuer of the account, at the issuer's home node."""
    node: Node = request.app.state.node
    account_id, issuer_id = request.path_params["account_id"], request.path_params["issuer_id"]
    key = await account_principal(request, node, account_id, scope)
    placement = await node.placement(issuer_id)
    if placement is None or placement.account_id != account_id:
        raise NotFoundProblem(f"issuer {issuer_id} not found in account {account_id}")
    ensure_region(placement.home_region, node.region)
    return node, placement, key


def _shard(node: Node, placement: Placement) -> Shard:
    try:
        return node.shards.get(placement.shard_id)
    except NotFound as exc:
        raise ServiceUnavailable(f"the shard of issuer {placement.issuer_id} is not open") from exc


async def _read(node: Node, placement: Placement) -> IssuerConfig:
    try:
        return await _shard(node, placement).issuers.get(placement.issuer_id)
    except NotFound as exc:
        raise NotFoundProblem(f"issuer {placement.issuer_id} not found") from exc
    except StorageError as exc:
        raise ServiceUnavailable(f"issuer {placement.issuer_id} could not be read; retry") from exc


def _merged_settings(issuer: IssuerConfig, fields: dict[str, Any]) -> dict[str, Any]:
    """A merge patch of the settings: a member sets one, a null member resets it to its
    default, and `"settings": null` resets them all."""
    if "settings" not in fields:
        return dict(issuer.settings)
    if fields["settings"] is None:
        return dict(DEFAULT_SETTINGS)
    merged = dict(issuer.settings)
    for name, value in fields["settings"].items():
        merged[name] = DEFAULT_SETTINGS[name] if value is None else value
    return merged


def represent(issuer: IssuerConfig, node: Node) -> dict[str, Any]:
    return {
        "object": "issuer",
        "id": issuer.id,
        "account_id": issuer.account_id,
        "name": issuer.name,
        "status": issuer.status,
        "jurisdiction": issuer.jurisdiction,
        "home_region": issuer.home_region,
        "issuer_url": f"{node.settings.public_url}/{issuer.id}",
        "settings": {name: issuer.setting(name) for name in DEFAULT_SETTINGS},
        "created_at": issuer.created_at,
        "updated_at": issuer.updated_at,
    }
