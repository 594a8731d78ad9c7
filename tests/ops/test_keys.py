"""`authpi ops keys`: list and rotate an issuer's signing keys on its home node's volume."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shards.clock import SystemClock
from shards.keys import Sealer, local_key
from shards.records import ShardRecord
from shards.shard import Shard
from tests.support.ops import ops, ops_json


def _issuer(data_dir: Path) -> str:
    async def create() -> str:
        record = ShardRecord("shd_1", "fra", "shards/shd_1.db", "active", "now")
        shard = await Shard.open(data_dir, record, SystemClock(), Sealer(local_key(data_dir)))
        await shard.issuers.create("i_1", "acct_1", "Acme", "eu", "fra")
        await shard.close()
        return "i_1"

    return asyncio.run(create())


def test_rotate_publishes_a_standby_key_and_lists_it(tmp_path: Path) -> None:
    issuer = _issuer(tmp_path)
    before = ops_json(tmp_path, "keys", "list", issuer)
    assert sorted((key["alg"], key["state"]) for key in before) == [
        ("ES256", "active"),
        ("RS256", "active"),
    ]
    rotated = ops_json(tmp_path, "keys", "rotate", issuer, "--alg", "ES256")
    assert rotated["key"]["state"] == "standby"
    (old,) = [key for key in before if key["alg"] == "ES256"]
    assert [key["kid"] for key in rotated["retired"]] == [old["kid"]]
    after = {key["kid"]: key["state"] for key in ops_json(tmp_path, "keys", "list", issuer)}
    assert after[rotated["key"]["kid"]] == "standby"
    assert after[old["kid"]] == "active"  # until the successor activates
    again = ops(tmp_path, "keys", "rotate", issuer)
    assert again.returncode == 1
    assert "already under way" in again.stderr


def test_an_issuer_not_on_this_volume_is_a_clear_error(tmp_path: Path) -> None:
    result = ops(tmp_path, "keys", "rotate", "i_elsewhere", "--immediate")
    assert result.returncode == 1
    assert "run this on its home node" in result.stderr
