"""The Fly.io regions AuthPI runs in, and the jurisdiction whose law governs each one.

A region code is the IATA code of the airport nearest the data centre; its point is that
airport's position (from the IATA table of `airportsdata`, rounded to 4 decimals, about 11 m),
which is close enough to rank regions by distance. The jurisdiction is what data-residency
policies name: `lhr` is in `uk`, not in `eu`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from regions.errors import UnknownJurisdiction, UnknownRegion
from regions.geo import GeoPoint


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """A legal area that data-residency rules can name, e.g. `eu` (European Union)."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Region:
    """A Fly.io region: its code, city, ISO 3166-1 alpha-2 country and jurisdiction code."""

    code: str
    city: str
    country: str
    jurisdiction: str
    point: GeoPoint


JURISDICTIONS: Final[Mapping[str, Jurisdiction]] = MappingProxyType(
    {
        j.code: j
        for j in (
            Jurisdiction("au", "Australia"),
            Jurisdiction("br", "Brazil"),
            Jurisdiction("ca", "Canada"),
            Jurisdiction("eu", "European Union"),
            Jurisdiction("in", "India"),
            Jurisdiction("jp", "Japan"),
            Jurisdiction("sg", "Singapore"),
            Jurisdiction("uk", "United Kingdom"),
            Jurisdiction("us", "United States"),
            Jurisdiction("za", "South Africa"),
        )
    }
)

REGIONS: Final[Mapping[str, Region]] = MappingProxyType(
    {
        r.code: r
        for r in (
            Region("ams", "Amsterdam", "NL", "eu", GeoPoint(52.3086, 4.7639)),
            Region("arn", "Stockholm", "SE", "eu", GeoPoint(59.6519, 17.9186)),
            Region("cdg", "Paris", "FR", "eu", GeoPoint(49.0128, 2.5500)),
            Region("fra", "Frankfurt", "DE", "eu", GeoPoint(50.0264, 8.5431)),
            Region("lhr", "London", "GB", "uk", GeoPoint(51.4706, -0.4619)),
            Region("dfw", "Dallas", "US", "us", GeoPoint(32.8972, -97.0377)),
            Region("ewr", "Secaucus", "US", "us", GeoPoint(40.6925, -74.1687)),
            Region("iad", "Ashburn", "US", "us", GeoPoint(38.9475, -77.4599)),
            Region("lax", "Los Angeles", "US", "us", GeoPoint(33.9425, -118.4080)),
            Region("ord", "Chicago", "US", "us", GeoPoint(41.9769, -87.9082)),
            Region("sjc", "San Jose", "US", "us", GeoPoint(37.3630, -121.9286)),
            Region("yyz", "Toronto", "CA", "ca", GeoPoint(43.6772, -79.6306)),
            Region("gru", "Sao Paulo", "BR", "br", GeoPoint(-23.4356, -46.4731)),
            Region("jnb", "Johannesburg", "ZA", "za", GeoPoint(-26.1337, 28.2423)),
            Region("sin", "Singapore", "SG", "sg", GeoPoint(1.3502, 103.9940)),
            Region("nrt", "Tokyo", "JP", "jp", GeoPoint(35.7647, 140.3860)),
            Region("syd", "Sydney", "AU", "au", GeoPoint(-33.9461, 151.1770)),
            Region("bom", "Mumbai", "IN", "in", GeoPoint(19.0887, 72.8679)),
        )
    }
)


def region(code: str) -> Region:
    """The region with this code (any case, surrounding spaces ignored); else `UnknownRegion`."""
    found = REGIONS.get(code.strip().lower())
    if found is None:
        raise UnknownRegion(code, REGIONS)
    return found


def jurisdiction(code: str) -> Jurisdiction:
    """The jurisdiction with this code (any case, spaces ignored); else `UnknownJurisdiction`."""
    found = JURISDICTIONS.get(code.strip().lower())
    if found is None:
        raise UnknownJurisdiction(code, JURISDICTIONS)
    return found


def regions_in(jurisdiction_code: str) -> tuple[Region, ...]:
    """The regions inside a jurisdiction, ordered by code; `UnknownJurisdiction` if unknown."""
    wanted = jurisdiction(jurisdiction_code).code
    return tuple(
        sorted((r for r in REGIONS.values() if r.jurisdiction == wanted), key=lambda r: r.code)
    )


def is_in(region_code: str, jurisdiction_code: str) -> bool:
    """Whether a region lies inside a jurisdiction; raises if either code is unknown."""
    return region(region_code).jurisdiction == jurisdiction(jurisdiction_code).code
