"""`authpi ops keys`: an issuer's signing keys, from the data directory of its home node.

Run where the issuer's shard lives (its home region's volume). The rotation commits to the
shard with its `signing_key.rotated` event, exactly as the Core API's rotation does; the
running node notices the new edge version and every node's snapshot follows within the
staleness bound.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from ops.tables import render, to_json
from runtime.settings import SettingsError, key_encryption_key
from shards.clock import SystemClock, rfc3339
from shards.keys import Sealer, local_key
from shards.records import ShardRecord
from shards.shard import Shard

OPERATOR = "operator"


class KeysError(Exception):
    """A refused keys command; the message is printed as is."""


def _shard_file(data_dir: Path, issuer_id: str) -> Path:
    for path in sorted((data_dir / "shards").glob("*.db")):
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            try:
                found = db.execute("SELECT 1 FROM issuers WHERE id = ?", (issuer_id,)).fetchone()
            except sqlite3.Error:
                continue
        if found:
            return path
    raise KeysError(f"issuer {issuer_id} has no shard under {data_dir}; run this on its home node")


def _sealer(data_dir: Path) -> Sealer:
    """The node's key-encryption key: from the environment as the node has it, or its file."""
    try:
        kek = key_encryption_key(os.environ.get("AUTHPI_KEY_ENCRYPTION_KEY"))
    except SettingsError as exc:
        raise KeysError(str(exc)) from exc
    return Sealer(kek or local_key(data_dir))


async def _open(data_dir: Path, issuer_id: str) -> Shard:
    path = _shard_file(data_dir, issuer_id)
    record = ShardRecord(path.stem, "", str(path.relative_to(data_dir)), "active", "")
    return await Shard.open(data_dir, record, SystemClock(), _sealer(data_dir))


def _row(key: Any, now: str) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state(now),
        "activates_at": key.activates_at,
        "retires_at": key.retires_at or "",
        "expires_at": key.expires_at or "",
    }


async def list_keys(data_dir: Path, issuer_id: str, as_json: bool) -> str:
    shard = await _open(data_dir, issuer_id)
    try:
        now = rfc3339(SystemClock().now())
        rows = [_row(key, now) for key in await shard.keys.published(issuer_id)]
    finally:
        await shard.close()
    return to_json(rows) if as_json else render(rows, list(rows[0]) if rows else ["kid"])


async def rotate(data_dir: Path, issuer_id: str, alg: str, immediate: bool, as_json: bool) -> str:
    shard = await _open(data_dir, issuer_id)
    try:
        issuer = await shard.issuers.get(issuer_id)
        lifetime = max(
            int(issuer.setting("access_token_lifetime")),
            int(issuer.setting("id_token_lifetime")),
            int(issuer.setting("agent_token_lifetime_max")),
        )
        key, retired = await shard.keys.rotate(
            issuer_id,
            issuer.account_id,
            alg,
            max_token_lifetime=lifetime,
            immediate=immediate,
            actor=OPERATOR,
        )
    finally:
        await shard.close()
    now = rfc3339(SystemClock().now())
    if as_json:
        return to_json({"key": _row(key, now), "retired": [_row(k, now) for k in retired]})
    lines = [f"new {alg} key {key.kid}: published now, signs from {key.activates_at}"]
    lines += [
        f"retiring {old.kid}: signs until {key.activates_at}, published until {old.expires_at}"
        for old in retired
    ]
    return "\n".join(lines)
