"""`authpi ops restore`: a lost node's databases, back from its Litestream replica.

Run it on the new machine before the node starts, with the same AUTHPI_REPLICA_URL the lost
node had and the same AUTHPI_KEY_ENCRYPTION_KEY the node will be given (the signing keys in
the shards are sealed with it). It restores `directory.db` when the replica holds one (the
primary's), then each shard of the region the directory lists, or the shards named with
`--shard`. A database already in the data directory is never replaced.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from ops.tables import render, to_json
from regions import region
from runtime.replication import ReplicationError, Restored, restore
from runtime.settings import SettingsError, replica_url
from shards.clock import SystemClock
from shards.directory import DIRECTORY_FILE, Directory
from shards.ids import is_id


class RestoreError(Exception):
    """What stops a restore; printed as is."""


def run(data_dir: Path, args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """`--replica-url` and `--region` default to the node's AUTHPI_REPLICA_URL and FLY_REGION."""
    try:
        url = replica_url(args.replica_url or environ.get("AUTHPI_REPLICA_URL"))
    except SettingsError as exc:
        raise RestoreError(str(exc).replace("AUTHPI_REPLICA_URL", "the replica URL")) from exc
    if url is None:
        raise RestoreError("no replica: pass --replica-url or set AUTHPI_REPLICA_URL")
    for shard_id in args.shard:
        if not is_id(shard_id, "shd"):
            raise RestoreError(f"{shard_id!r} is not a shard id (shd_...)")
    try:
        results = [restore(data_dir, url, DIRECTORY_FILE)]
        files = [f"shards/{shard_id}.db" for shard_id in args.shard]
        if not files:
            files = asyncio.run(_region_shards(data_dir, args.region or environ.get("FLY_REGION")))
        results += [restore(data_dir, url, file) for file in files]
    except ReplicationError as exc:
        raise RestoreError(str(exc)) from exc
    return _report(results, json=args.json)


async def _region_shards(data_dir: Path, code: str | None) -> list[str]:
    if not code:
        raise RestoreError(
            "name the region with --region (or FLY_REGION), or the shards with --shard"
        )
    if not (data_dir / DIRECTORY_FILE).exists():
        raise RestoreError(
            "this data directory has no directory.db and the replica held none (only the"
            " primary's does): name the shards to restore with --shard"
        )
    directory = await Directory.open(data_dir, SystemClock())
    try:
        return [shard.file for shard in await directory.shards(region(code).code)]
    finally:
        await directory.close()


def _report(results: list[Restored], *, json: bool) -> str:
    rows = [asdict(result) for result in results]
    return to_json(rows) if json else render(rows, ["database", "outcome"])
