"""Placement rules: which region and shard an issuer lives on.

An issuer's home region is always inside its jurisdiction, at creation and after any move.

    PlacementError           a placement was refused
    ├── OutOfJurisdiction    the region is outside the issuer's jurisdiction
    └── NoShardAvailable     no active shard where the issuer may live
"""

from __future__ import annotations

from collections.abc import Iterable

from regions import nearest_region, region, regions_in
from shards.records import DirectorySnapshot, ShardRecord


class PlacementError(Exception):
    """Base class of placement refusals."""


class OutOfJurisdiction(PlacementError):
    def __init__(self, region_code: str, jurisdiction: str) -> None:
        self.region = region_code
        self.jurisdiction = jurisdiction
        self.allowed = tuple(r.code for r in regions_in(jurisdiction))
        super().__init__(
            f"region {region_code!r} is outside jurisdiction {jurisdiction!r};"
            f" allowed regions: {', '.join(self.allowed)}"
        )


class NoShardAvailable(PlacementError):
    def __init__(self, jurisdiction: str, regions: Iterable[str]) -> None:
        self.jurisdiction = jurisdiction
        self.regions = tuple(sorted(regions))
        super().__init__(
            f"no active shard in {', '.join(self.regions)} (jurisdiction {jurisdiction!r});"
            " an operator adds one with `authpi ops shards create --region R`"
        )


def check_in_jurisdiction(region_code: str, jurisdiction: str) -> None:
    if region(region_code).jurisdiction != jurisdiction:
        raise OutOfJurisdiction(region_code, jurisdiction)


def choose_home_region(
    snapshot: DirectorySnapshot,
    jurisdiction: str,
    *,
    requested: str | None,
    entry_region: str,
) -> str:
    """The requested region (checked), or the one nearest to where the request entered.

    Only regions with an active shard are candidates.
    """
    if requested is not None:
        home = region(requested).code
        check_in_jurisdiction(home, jurisdiction)
        if not active_shards(snapshot, home):
            raise NoShardAvailable(jurisdiction, [home])
        return home
    candidates = {
        shard.region
        for shard in snapshot.shards.values()
        if shard.status == "active" and region(shard.region).jurisdiction == jurisdiction
    }
    if not candidates:
        raise NoShardAvailable(jurisdiction, (r.code for r in regions_in(jurisdiction)))
    return nearest_region(region(entry_region).point, among=candidates).code


def choose_shard(snapshot: DirectorySnapshot, region_code: str) -> ShardRecord:
    """The active shard of a region holding the fewest issuers; the oldest on a tie."""
    shards = active_shards(snapshot, region_code)
    if not shards:
        raise NoShardAvailable(region(region_code).jurisdiction, [region_code])
    load = {shard.id: 0 for shard in shards}
    for placement in snapshot.issuers.values():
        if placement.shard_id in load:
            load[placement.shard_id] += 1
    return min(shards, key=lambda shard: (load[shard.id], shard.id))


def active_shards(snapshot: DirectorySnapshot, region_code: str) -> list[ShardRecord]:
    return [s for s in snapshot.shards.values() if s.region == region_code and s.status == "active"]
