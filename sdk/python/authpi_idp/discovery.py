"""OpenID Connect Discovery 1.0 §4: where an issuer publishes its keys (`jwks_uri`)."""

from __future__ import annotations

import httpx

from authpi_idp.errors import KeySetUnavailable
from authpi_idp.jwks import FETCH_TIMEOUT


def discovery_url(issuer: str) -> str:
    return f"{issuer}/.well-known/openid-configuration"


async def discover_jwks_uri(issuer: str, http: httpx.AsyncClient) -> str:
    """The `jwks_uri` of `issuer`'s discovery document.

    §4.3: the document's `issuer` must be exactly the issuer it was fetched for, or a
    document served elsewhere could point the verifier at someone else's keys.
    """
    url = discovery_url(issuer)
    try:
        response = await http.get(
            url, headers={"Accept": "application/json"}, timeout=FETCH_TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise KeySetUnavailable(f"GET {url} failed: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise KeySetUnavailable(f"GET {url} answered {response.status_code}")
    try:
        document = response.json()
    except ValueError as exc:
        raise KeySetUnavailable(f"GET {url} did not answer JSON") from exc
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise KeySetUnavailable(f"the discovery document at {url} is not for issuer {issuer}")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
        raise KeySetUnavailable(f"the discovery document at {url} has no usable 'jwks_uri'")
    return jwks_uri
