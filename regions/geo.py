"""Points on the Earth and the great-circle distance between them (haversine formula)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

# The IUGG mean Earth radius: the sphere that best fits the ellipsoid, so haversine
# distances stay within about 0.5% of the true geodesic anywhere on the globe.
EARTH_RADIUS_KM: Final = 6371.0088


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A latitude and longitude in decimal degrees (WGS 84)."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"latitude {self.lat} is outside [-90, 90]")
        if not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"longitude {self.lon} is outside [-180, 180]")


def distance_km(a: GeoPoint, b: GeoPoint) -> float:
    """The great-circle distance between two points, in kilometres."""
    lat_a, lat_b = math.radians(a.lat), math.radians(b.lat)
    half_chord = (
        math.sin((lat_b - lat_a) / 2) ** 2
        + math.cos(lat_a) * math.cos(lat_b) * math.sin(math.radians(b.lon - a.lon) / 2) ** 2
    )
    # min() guards asin against a rounding error nudging the value just above 1 (antipodes).
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(half_chord)))
