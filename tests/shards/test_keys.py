"""Signing keys: sealed at rest, and rotated by the clock alone."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from shards.clock import rfc3339
from shards.errors import Conflict
from shards.keys import JWKS_MAX_AGE, PUBLISH_LEAD, Sealer, SealError, local_key, seal_context
from shards.records import ShardRecord
from shards.shard import Shard
from tests.conftest import FrozenClock

KEK = bytes(range(32))


@pytest.fixture
async def shard(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Shard]:
    record = ShardRecord("shd_1", "fra", "fra-1.db", "active", "now")
    opened = await Shard.open(tmp_path, record, clock, Sealer(KEK))
    await opened.issuers.create("i_1", "acct_1", "Acme", "eu", "fra")
    yield opened
    await opened.close()


def test_a_sealed_key_opens_only_with_its_kek_and_context() -> None:
    sealed = Sealer(KEK).seal(b"private", seal_context("i_1", "k1"))
    assert Sealer(KEK).open(sealed, seal_context("i_1", "k1")) == b"private"
    with pytest.raises(SealError, match="did not open"):
        Sealer(KEK).open(sealed, seal_context("i_2", "k1"))
    with pytest.raises(SealError, match="did not open"):
        Sealer(bytes(32)).open(sealed, seal_context("i_1", "k1"))
    with pytest.raises(SealError, match="known format"):
        Sealer(KEK).open(b"\x02" + sealed[1:], seal_context("i_1", "k1"))


async def test_a_new_issuer_signs_with_es256_and_rs256_keys_sealed_at_rest(
    shard: Shard, tmp_path: Path
) -> None:
    keys = await shard.keys.published("i_1")
    assert sorted(key.alg for key in keys) == ["ES256", "RS256"]
    raw = sqlite3.connect(tmp_path / "fra-1.db")
    for key in keys:
        assert "d" not in key.public_jwk
        assert key.public_jwk["kid"] == key.kid
        (sealed,) = raw.execute("SELECT sealed_key FROM signing_keys WHERE kid = ?", (key.kid,))
        assert b'"d"' not in sealed[0]
        private = orjson.loads(Sealer(KEK).open(sealed[0], seal_context("i_1", key.kid)))
        assert private["d"]


async def test_a_rotation_publishes_first_signs_later_and_retires_after_the_overlap(
    shard: Shard, clock: FrozenClock
) -> None:
    (old,) = [key for key in await shard.keys.published("i_1") if key.alg == "ES256"]
    new, replaced = await shard.keys.rotate("i_1", "acct_1", "ES256", max_token_lifetime=3600)
    assert [key.kid for key in replaced] == [old.kid]
    now = rfc3339(clock.now())
    assert (new.state(now), old.state(now)) == ("standby", "active")
    with pytest.raises(Conflict, match="already under way"):
        await shard.keys.rotate("i_1", "acct_1", "ES256", max_token_lifetime=3600)

    clock.moment += PUBLISH_LEAD
    keys = {key.kid: key for key in await shard.keys.published("i_1")}
    now = rfc3339(clock.now())
    assert (keys[new.kid].state(now), keys[old.kid].state(now)) == ("active", "retired")

    clock.moment += timedelta(seconds=3600 + JWKS_MAX_AGE)
    assert old.kid not in {key.kid for key in await shard.keys.published("i_1")}
    assert await shard.keys.lacking("i_1", ("ES256", "RS256", "EdDSA")) == ("EdDSA",)


async def test_an_immediate_rotation_signs_at_once_and_drops_a_standby(
    shard: Shard, clock: FrozenClock
) -> None:
    standby, _ = await shard.keys.rotate("i_1", "acct_1", "ES256", max_token_lifetime=600)
    urgent, replaced = await shard.keys.rotate(
        "i_1", "acct_1", "ES256", max_token_lifetime=600, immediate=True
    )
    assert standby.kid in {key.kid for key in replaced}
    published = {key.kid: key for key in await shard.keys.published("i_1")}
    now = rfc3339(clock.now())
    assert standby.kid not in published  # it never signed, so it needs no overlap
    assert published[urgent.kid].state(now) == "active"
    events = await shard.outbox.list(after_seq=0, limit=50, issuer_id="i_1")
    assert [event.type for event in events].count("signing_key.rotated") == 2


async def test_ensure_adds_only_missing_algorithms(shard: Shard) -> None:
    created = await shard.keys.ensure("i_1", "acct_1", ("ES256", "EdDSA"))
    assert [key.alg for key in created] == ["EdDSA"]
    assert await shard.keys.ensure("i_1", "acct_1", ("EdDSA",)) == []


def test_a_local_kek_is_created_once_and_private(tmp_path: Path) -> None:
    first = local_key(tmp_path)
    assert local_key(tmp_path) == first
    assert (tmp_path / "key-encryption.key").stat().st_mode & 0o077 == 0
