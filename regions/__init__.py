"""Fly.io regions: where each one is, which jurisdiction it lies in, and which is nearest.

>>> nearest_region(locate("LOS"), jurisdiction="eu").code
'cdg'
"""

from __future__ import annotations

from regions.catalogue import (
    JURISDICTIONS,
    REGIONS,
    Jurisdiction,
    Region,
    is_in,
    jurisdiction,
    region,
    regions_in,
)
from regions.errors import (
    NoRegionAvailable,
    RegionError,
    UnknownJurisdiction,
    UnknownLocation,
    UnknownRegion,
)
from regions.geo import GeoPoint, distance_km
from regions.locate import locate, nearest, nearest_region

__all__ = [
    "JURISDICTIONS",
    "REGIONS",
    "GeoPoint",
    "Jurisdiction",
    "NoRegionAvailable",
    "Region",
    "RegionError",
    "UnknownJurisdiction",
    "UnknownLocation",
    "UnknownRegion",
    "distance_km",
    "is_in",
    "jurisdiction",
    "locate",
    "nearest",
    "nearest_region",
    "region",
    "regions_in",
]
