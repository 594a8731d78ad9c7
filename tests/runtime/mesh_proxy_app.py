"""The mesh proxy as the tests run it under granian: nodes from `AUTHPI_MESH_NODES`, and a
fixed table of client locations in place of the airport catalogue."""

from __future__ import annotations

import os
from typing import Final

from starlette.types import ASGIApp

from runtime.mesh import ProxySettings, create_proxy

LOCATIONS: Final = {"LOS": "jnb", "JFK": "iad", "FRA": "fra"}


def locate(iata: str) -> str:
    try:
        return LOCATIONS[iata.upper()]
    except KeyError:
        raise ValueError(f"no region for location {iata!r}") from None


def create_test_proxy() -> ASGIApp:
    return create_proxy(ProxySettings.from_environ(os.environ), locate=locate)
