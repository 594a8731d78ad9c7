"""`authpi ops`: the operator's commands, run on the primary region's machine.

They act on the directory file in the data directory; running nodes see each change within
their directory refresh interval. Two run elsewhere: `keys` on the issuer's home node, and
`restore` on any region's new machine before its node starts (ops/restore.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ops import keys, restore
from ops.placement import PlacementError, check_in_jurisdiction
from ops.tables import render, to_json
from regions import REGIONS, RegionError, jurisdiction, region, regions_in
from shards.clock import SystemClock
from shards.directory import Directory
from shards.errors import StorageError
from shards.issuers import SIGNING_ALGS

OPERATOR = "operator"


class OpsError(Exception):
    """A refused command: the message is printed as is, and the exit status is 1."""


def add_parser(subparsers: Any) -> None:
    ops = subparsers.add_parser("ops", help="operate AuthPI: accounts, regions, shards, issuers")
    ops.add_argument("--data-dir", type=Path, help="the primary's data directory")
    ops.add_argument("--json", action="store_true", help="print JSON for scripts")
    topics = ops.add_subparsers(dest="topic", required=True)

    accounts = topics.add_parser("accounts", help="accounts").add_subparsers(
        dest="action", required=True
    )
    create_account = accounts.add_parser("create", help="create an account and its first key")
    create_account.add_argument("name")
    accounts.add_parser("list", help="list accounts")

    regions_parser = topics.add_parser("regions", help="list regions and jurisdictions")
    regions_parser.add_argument("--jurisdiction", help="only this jurisdiction's regions")

    shards = topics.add_parser("shards", help="shards").add_subparsers(dest="action", required=True)
    list_shards = shards.add_parser("list", help="list shards")
    list_shards.add_argument("--region")
    create_shard = shards.add_parser("create", help="create a shard in a region")
    create_shard.add_argument("--region", required=True)

    issuers = topics.add_parser("issuers", help="issuer placement").add_subparsers(
        dest="action", required=True
    )
    list_issuers = issuers.add_parser("list", help="list issuers and where they live")
    list_issuers.add_argument("--account")
    place = issuers.add_parser(
        "place",
        help="point an issuer at another shard of its jurisdiction (no data is copied)",
    )
    place.add_argument("issuer")
    place.add_argument("--shard", required=True)

    keys = topics.add_parser(
        "keys", help="an issuer's signing keys (run on its home node)"
    ).add_subparsers(dest="action", required=True)
    list_keys = keys.add_parser("list", help="the keys in the issuer's JWKS and their states")
    list_keys.add_argument("issuer")
    rotate = keys.add_parser(
        "rotate", help="publish a successor key; it signs once every JWKS cache has it"
    )
    rotate.add_argument("issuer")
    rotate.add_argument("--alg", choices=SIGNING_ALGS, default="ES256")
    rotate.add_argument(
        "--immediate", action="store_true", help="sign with it at once (a compromised key)"
    )

    restoring = topics.add_parser(
        "restore",
        help="bring a lost node's databases back from its Litestream replica",
        description="Restores directory.db (when the replica has it) and the region's shards"
        " into --data-dir. A database already in the data directory is left alone.",
    )
    restoring.add_argument("--replica-url", help="default: AUTHPI_REPLICA_URL")
    restoring.add_argument(
        "--region", help="whose shards to restore, by the directory (default: FLY_REGION)"
    )
    restoring.add_argument(
        "--shard", action="append", default=[], help="restore this shard (repeatable)"
    )


def run(args: argparse.Namespace, default_data_dir: Path, environ: Mapping[str, str]) -> int:
    data_dir: Path = args.data_dir or default_data_dir
    try:
        if args.topic == "regions":
            output = _regions(args)
        elif args.topic == "keys" and args.action == "list":
            output = asyncio.run(keys.list_keys(data_dir, args.issuer, args.json))
        elif args.topic == "keys":
            output = asyncio.run(
                keys.rotate(data_dir, args.issuer, args.alg, args.immediate, args.json)
            )
        elif args.topic == "restore":
            output = restore.run(data_dir, args, environ)
        else:
            output = asyncio.run(_with_directory(data_dir, lambda d: _dispatch(d, args)))
    except (
        OpsError,
        keys.KeysError,
        restore.RestoreError,
        RegionError,
        PlacementError,
        StorageError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(output)
    return 0


async def _with_directory(data_dir: Path, action: Callable[[Directory], Awaitable[str]]) -> str:
    directory = await Directory.open(data_dir, SystemClock())
    try:
        return await action(directory)
    finally:
        await directory.close()


async def _dispatch(directory: Directory, args: argparse.Namespace) -> str:
    handler = _HANDLERS[(args.topic, args.action)]
    return await handler(directory, args)


async def _create_account(directory: Directory, args: argparse.Namespace) -> str:
    account, issued = await directory.create_account(args.name, actor=OPERATOR)
    document = {
        "account_id": account.id,
        "name": account.name,
        "api_key_id": issued.key.id,
        "api_key": issued.token,
    }
    if args.json:
        return to_json(document)
    return (
        f"account  {account.id}  {account.name}\n"
        f"api key  {issued.token}\n"
        "This key is shown once and cannot be recovered: store it now."
    )


async def _list_accounts(directory: Directory, args: argparse.Namespace) -> str:
    rows = [asdict(account) for account in await directory.accounts()]
    return to_json(rows) if args.json else render(rows, ["id", "name", "status", "created_at"])


def _regions(args: argparse.Namespace) -> str:
    chosen = (
        regions_in(jurisdiction(args.jurisdiction).code)
        if args.jurisdiction
        else sorted(REGIONS.values(), key=lambda r: (r.jurisdiction, r.code))
    )
    rows = [
        {
            "code": r.code,
            "city": r.city,
            "country": r.country,
            "jurisdiction": r.jurisdiction,
            "lat": r.point.lat,
            "lon": r.point.lon,
        }
        for r in chosen
    ]
    columns = ["code", "city", "country", "jurisdiction", "lat", "lon"]
    return to_json(rows) if args.json else render(rows, columns)


async def _list_shards(directory: Directory, args: argparse.Namespace) -> str:
    only = region(args.region).code if args.region else None
    placements = await directory.placements()
    rows = [
        {**asdict(s), "issuers": sum(1 for p in placements if p.shard_id == s.id)}
        for s in await directory.shards(only)
    ]
    columns = ["id", "region", "status", "issuers", "file", "created_at"]
    return to_json(rows) if args.json else render(rows, columns)


async def _create_shard(directory: Directory, args: argparse.Namespace) -> str:
    shard = await directory.register_shard(region(args.region).code, actor=OPERATOR)
    if args.json:
        return to_json(asdict(shard))
    return f"shard {shard.id} created in {shard.region}; its node opens {shard.file}"


async def _list_issuers(directory: Directory, args: argparse.Namespace) -> str:
    rows = [asdict(p) for p in await directory.placements(args.account)]
    columns = ["issuer_id", "account_id", "jurisdiction", "home_region", "shard_id", "epoch"]
    return to_json(rows) if args.json else render(rows, [*columns, "status"])


async def _place_issuer(directory: Directory, args: argparse.Namespace) -> str:
    placement = await directory.placement(args.issuer)
    shard = await directory.shard(args.shard)
    if shard.status != "active":
        raise OpsError(f"shard {shard.id} is {shard.status}; place issuers on active shards only")
    check_in_jurisdiction(shard.region, placement.jurisdiction)
    placed = await directory.place_issuer(placement.issuer_id, shard, actor=OPERATOR)
    if args.json:
        return to_json(asdict(placed))
    return (
        f"issuer {placed.issuer_id} placed on {placed.shard_id} in {placed.home_region}"
        f" (epoch {placed.epoch})"
    )


_Handler = Callable[[Directory, argparse.Namespace], Awaitable[str]]
_HANDLERS: dict[tuple[str, str], _Handler] = {
    ("accounts", "create"): _create_account,
    ("accounts", "list"): _list_accounts,
    ("shards", "list"): _list_shards,
    ("shards", "create"): _create_shard,
    ("issuers", "list"): _list_issuers,
    ("issuers", "place"): _place_issuer,
}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ops.cli ...`, the same as `authpi ops ...`."""
    from runtime.cli import main as authpi_main

    return authpi_main(["ops", *(argv if argv is not None else sys.argv[1:])])
