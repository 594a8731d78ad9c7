"""The local mesh: one node per region on loopback, behind a front proxy that does what Fly.io's
proxy does in production (entry by client location, Fly-* headers, fly-replay).

    granian --interface asgi --factory runtime.mesh.proxy:proxy_from_environ
"""

from __future__ import annotations

from runtime.mesh.proxy import MeshProxy, create_proxy, proxy_from_environ
from runtime.mesh.settings import MeshConfigError, MeshNode, ProxySettings

__all__ = [
    "MeshConfigError",
    "MeshNode",
    "MeshProxy",
    "ProxySettings",
    "create_proxy",
    "proxy_from_environ",
]
