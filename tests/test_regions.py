from __future__ import annotations

import math

import pytest

from regions import (
    JURISDICTIONS,
    REGIONS,
    GeoPoint,
    NoRegionAvailable,
    Region,
    RegionError,
    UnknownJurisdiction,
    UnknownLocation,
    UnknownRegion,
    distance_km,
    is_in,
    jurisdiction,
    locate,
    nearest,
    nearest_region,
    region,
    regions_in,
)
from regions.geo import EARTH_RADIUS_KM

KNOWN_REGIONS = (
    "ams, arn, bom, cdg, dfw, ewr, fra, gru, iad, jnb, lax, lhr, nrt, ord, sin, sjc, syd, yyz"
)
KNOWN_JURISDICTIONS = "au, br, ca, eu, in, jp, sg, uk, us, za"


# Nearest-region choice. Great-circle distances from Lagos (LOS), computed with distance_km:
# jnb 4523 km, cdg 4719 km, fra 4856 km, lhr 5004 km, ams 5087 km, arn 6030 km.


def test_nearest_region_to_lagos_is_johannesburg() -> None:
    assert nearest_region(locate("LOS")).code == "jnb"


def test_nearest_eu_region_to_lagos_is_paris() -> None:
    assert nearest_region(locate("LOS"), jurisdiction="eu").code == "cdg"


def test_nearest_region_among_a_set() -> None:
    assert nearest_region(locate("LOS"), among={"fra", "iad"}).code == "fra"


def test_nearest_region_to_jfk_is_secaucus() -> None:
    # ewr is 33 km from JFK, iad 366 km.
    assert nearest_region(locate("JFK")).code == "ewr"


@pytest.mark.parametrize(("iata", "expected"), [("NRT", "nrt"), ("SYD", "syd"), ("LHR", "lhr")])
def test_a_region_airport_is_nearest_to_its_own_region(iata: str, expected: str) -> None:
    assert nearest_region(locate(iata)).code == expected


def test_nearest_eu_region_to_london_is_not_london() -> None:
    # From LHR: cdg 347 km, ams 370 km, fra 653 km.
    assert nearest_region(region("lhr").point, jurisdiction="eu").code == "cdg"


def test_ties_go_to_the_lower_code() -> None:
    east = Region("bbb", "East", "XX", "eu", GeoPoint(0.0, 10.0))
    west = Region("aaa", "West", "XX", "eu", GeoPoint(0.0, -10.0))
    assert nearest(GeoPoint(0.0, 0.0), [east, west]) is west


# Jurisdictions.


def test_london_is_in_the_uk_not_the_eu() -> None:
    assert not is_in("lhr", "eu")
    assert is_in("lhr", "uk")


def test_eu_regions() -> None:
    assert [r.code for r in regions_in("eu")] == ["ams", "arn", "cdg", "fra"]


def test_every_region_has_a_known_jurisdiction() -> None:
    assert {r.jurisdiction for r in REGIONS.values()} == set(JURISDICTIONS)


def test_catalogue_points_are_their_airports() -> None:
    for code, r in REGIONS.items():
        assert distance_km(r.point, locate(code)) < 1.0, code


def test_catalogue_is_read_only() -> None:
    with pytest.raises(TypeError):
        REGIONS["xyz"] = REGIONS["fra"]  # type: ignore[index]


# Distances.


def test_distance_to_the_antipode_is_half_the_circumference() -> None:
    assert distance_km(GeoPoint(0.0, 0.0), GeoPoint(0.0, 180.0)) == pytest.approx(
        math.pi * EARTH_RADIUS_KM
    )


@pytest.mark.parametrize(("lat", "lon"), [(90.5, 0.0), (0.0, -180.5)])
def test_geopoint_refuses_out_of_range_coordinates(lat: float, lon: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        GeoPoint(lat, lon)


# Errors: the exact class, message and offending value.


def test_unknown_region() -> None:
    with pytest.raises(UnknownRegion) as caught:
        region("xyz")
    assert str(caught.value) == f"unknown region 'xyz'; known regions: {KNOWN_REGIONS}"
    assert caught.value.code == "xyz"


def test_unknown_region_among_candidates() -> None:
    with pytest.raises(UnknownRegion, match=r"^unknown region 'mars';"):
        nearest_region(locate("LOS"), among=["fra", "mars"])


def test_among_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError, match="not the string 'fra'"):
        nearest_region(locate("LOS"), among="fra")


def test_unknown_jurisdiction() -> None:
    with pytest.raises(UnknownJurisdiction) as caught:
        nearest_region(locate("LOS"), jurisdiction="xx")
    assert (
        str(caught.value)
        == f"unknown jurisdiction 'xx'; known jurisdictions: {KNOWN_JURISDICTIONS}"
    )
    assert caught.value.code == "xx"


def test_unknown_location() -> None:
    with pytest.raises(UnknownLocation) as caught:
        locate("ZZZ")
    assert str(caught.value) == "unknown location 'ZZZ': not an IATA airport code"
    assert caught.value.code == "ZZZ"


@pytest.mark.parametrize("malformed", ["LONDON", "L0S", "", "ÅÅÅ"])
def test_malformed_location(malformed: str) -> None:
    with pytest.raises(UnknownLocation) as caught:
        locate(malformed)
    assert (
        str(caught.value)
        == f"unknown location {malformed!r}: an IATA airport code is three letters"
    )


def test_no_region_in_jurisdiction_among_candidates() -> None:
    with pytest.raises(NoRegionAvailable) as caught:
        nearest_region(locate("LOS"), among=["jnb", "iad"], jurisdiction="eu")
    assert str(caught.value) == "no region in jurisdiction 'eu' among: iad, jnb"
    assert (caught.value.code, caught.value.candidates) == ("eu", ("iad", "jnb"))


def test_no_candidates() -> None:
    with pytest.raises(NoRegionAvailable) as caught:
        nearest(GeoPoint(0.0, 0.0), [])
    assert str(caught.value) == "no region: the set of candidate regions is empty"


def test_no_candidates_among_nothing() -> None:
    with pytest.raises(
        NoRegionAvailable, match=r"^no region: the set of candidate regions is empty$"
    ):
        nearest_region(locate("LOS"), among=[])


def test_every_error_is_a_region_error_and_a_value_error() -> None:
    for error in (UnknownRegion, UnknownJurisdiction, UnknownLocation, NoRegionAvailable):
        assert issubclass(error, RegionError)
    assert issubclass(RegionError, ValueError)


# Case and whitespace.


def test_region_and_jurisdiction_codes_ignore_case_and_spaces() -> None:
    assert region(" FRA ") is REGIONS["fra"]
    assert jurisdiction("EU") is JURISDICTIONS["eu"]
    assert is_in("LHR", "UK")


def test_locate_ignores_case() -> None:
    assert locate("los") == locate("LOS")


def test_nearest_region_ignores_case() -> None:
    assert nearest_region(locate("los"), among=["FRA", "Iad"], jurisdiction="EU").code == "fra"
