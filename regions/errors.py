"""Region errors. Every one is a `ValueError`: the caller named something this catalogue refuses.

RegionError                  any refusal of the regions package
├── UnknownRegion            the code is not a Fly.io region in the catalogue
├── UnknownJurisdiction      the code is not a jurisdiction in the catalogue
├── UnknownLocation          the code is not a three-letter IATA airport code we can place
└── NoRegionAvailable        the restrictions on a nearest-region choice left no region

Each error keeps the value it refused as `.code` (an unknown code as the caller spelled it).
"""

from __future__ import annotations

from collections.abc import Iterable


class RegionError(ValueError):
    """Base class of every regions error."""


class UnknownRegion(RegionError):
    def __init__(self, code: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown region {code!r}; known regions: {', '.join(sorted(known))}")
        self.code = code


class UnknownJurisdiction(RegionError):
    def __init__(self, code: str, known: Iterable[str]) -> None:
        super().__init__(
            f"unknown jurisdiction {code!r}; known jurisdictions: {', '.join(sorted(known))}"
        )
        self.code = code


class UnknownLocation(RegionError):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"unknown location {code!r}: {reason}")
        self.code = code


class NoRegionAvailable(RegionError):
    """`.code` is the jurisdiction that excluded every candidate (None when there was none)."""

    def __init__(self, jurisdiction: str | None, candidates: Iterable[str]) -> None:
        self.code = jurisdiction
        self.candidates = tuple(sorted(candidates))
        where = "" if jurisdiction is None else f" in jurisdiction {jurisdiction!r}"
        if self.candidates:
            super().__init__(f"no region{where} among: {', '.join(self.candidates)}")
        else:
            super().__init__(f"no region{where}: the set of candidate regions is empty")
