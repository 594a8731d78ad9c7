"""Place a location on the globe and choose the nearest region to it.

A location is an IATA airport code, the name edge networks commonly give their points of
presence; Fly.io's region codes are airport codes too, so `locate("fra")` works.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import airportsdata

from regions import catalogue
from regions.catalogue import Region
from regions.errors import NoRegionAvailable, UnknownLocation
from regions.geo import GeoPoint, distance_km


@functools.cache
def _airports() -> Mapping[str, airportsdata.Airport]:
    # Loading parses ~8000 rows (~100 ms): done on first use, not at import, then kept.
    return airportsdata.load("IATA")


def locate(iata: str) -> GeoPoint:
    """The position of an IATA airport code (any case); else `UnknownLocation`."""
    code = iata.strip().upper()
    if len(code) != 3 or not (code.isascii() and code.isalpha()):
        raise UnknownLocation(iata, "an IATA airport code is three letters")
    airport = _airports().get(code)
    if airport is None:
        raise UnknownLocation(iata, "not an IATA airport code")
    return GeoPoint(airport["lat"], airport["lon"])


def nearest(origin: GeoPoint, candidates: Iterable[Region]) -> Region:
    """The candidate closest to `origin`; the lower code wins a tie, so the choice is stable.

    Raises `NoRegionAvailable` when there are no candidates.
    """
    choices = tuple(candidates)
    if not choices:
        raise NoRegionAvailable(None, ())
    return min(choices, key=lambda r: (distance_km(origin, r.point), r.code))


def nearest_region(
    origin: GeoPoint,
    *,
    among: Iterable[str] | None = None,
    jurisdiction: str | None = None,
) -> Region:
    """The region nearest `origin`, among the region codes `among` (default: every region)
    and inside `jurisdiction` (default: any).

    For a client, pass `locate(iata)`; for a region, pass `region(code).point`.
    Raises `UnknownRegion` or `UnknownJurisdiction` for a code not in the catalogue, and
    `NoRegionAvailable` when the restrictions leave no region.
    """
    if isinstance(among, str):
        # A bare string is an iterable of letters; refuse it rather than look up 'f', 'r', 'a'.
        raise TypeError(f"among must be a collection of region codes, not the string {among!r}")
    candidates = (
        catalogue.REGIONS.values() if among is None else {catalogue.region(c) for c in among}
    )
    if jurisdiction is None:
        return nearest(origin, candidates)
    inside = catalogue.jurisdiction(jurisdiction).code
    allowed = [r for r in candidates if r.jurisdiction == inside]
    if not allowed:
        raise NoRegionAvailable(inside, (r.code for r in candidates))
    return nearest(origin, allowed)
