"""The per-issuer OAuth endpoints under `{base}/{issuer_id}`.

Edge work, answered by any node from its edge snapshot without a shard read or a replay:
discovery (OpenID Connect Discovery 1.0 and RFC 8414), `/jwks.json`, `/token`
(client_credentials) and `/introspect` (RFC 7662). `/revoke` (RFC 7009) writes the
revocation set, so it is home work and is replayed to the issuer's home region.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import orjson

from api.oauth import tokens
from api.oauth.clients import ASSERTION_ALGS, Authenticated, ClientAuthenticator
from api.oauth.dpop import PROOF_ALGS, DpopChecker
from api.oauth.errors import (
    InvalidDpopProof,
    InvalidRequest,
    TemporarilyUnavailable,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from api.oauth.form import read_form
from api.oauth.grants import client_credentials_claims
from api.oauth.replay import ReplayGossip
from api.oauth.wire import EdgeRequest
from api.problems import NotFoundProblem, ServiceUnavailable
from api.reply import JSON_NO_STORE, NO_STORE, Headers, Reply
from runtime.edge import EdgeUnavailable, IssuerEdge
from runtime.node import Node
from runtime.routing import ensure_region
from shards.errors import StorageError
from shards.keys import JWKS_MAX_AGE

log = logging.getLogger("authpi.oauth")

DISCOVERY_MAX_AGE: Final = 300
CLIENT_AUTH_METHODS: Final = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
JWKS_HEADERS: Final[Headers] = [
    ("content-type", "application/jwk-set+json"),
    ("cache-control", f"public, max-age={JWKS_MAX_AGE}"),
]


class OAuth:
    """What the OAuth endpoints keep per node beyond the edge snapshots."""

    def __init__(self, node: Node) -> None:
        self.node = node
        peers, secret = node.settings.peers, node.settings.mesh_secret
        shared = bool(peers) and secret is not None
        self.clients = ClientAuthenticator(node.edge, node.http, node.clock, shared=shared)
        self.dpop = DpopChecker(node.sealer.kek, shared=shared)
        self.verified = tokens.VerifiedTokens()
        self.seen = {"assertions": self.clients.seen, "proofs": self.dpop.seen}
        self.gossip = (
            ReplayGossip(self.seen, peers, secret, node.http)
            if shared and secret is not None
            else None
        )

    def start(self) -> None:
        if self.gossip is not None:
            self.gossip.start()

    async def stop(self) -> None:
        if self.gossip is not None:
            await self.gossip.stop()


async def _edge(oauth: OAuth, issuer_id: str, *, problem: bool = False) -> IssuerEdge:
    try:
        edge = await oauth.node.edge.get(issuer_id)
    except EdgeUnavailable as exc:
        if problem:
            raise ServiceUnavailable(str(exc)) from exc
        raise TemporarilyUnavailable(str(exc)) from exc
    if edge is None:
        raise NotFoundProblem(f"issuer {issuer_id} not found")
    return edge


async def token(oauth: OAuth, request: EdgeRequest) -> Reply:
    node = oauth.node
    edge = await _edge(oauth, request.issuer_id)
    form = await read_form(request)
    endpoint = f"{edge.url}/token"
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is missing")
    edge, client = await oauth.clients.authenticate(
        edge, form, request.header("authorization"), endpoint
    )
    if grant_type != "client_credentials":
        raise UnsupportedGrantType(f"{grant_type[:60]} is not supported by this issuer")
    if edge.status != "active":
        raise UnauthorizedClient(f"the issuer {edge.issuer_id} is disabled")
    moment = node.clock.now()
    now = int(moment.timestamp())
    proofs = request.headers_named("dpop")
    proof = None
    if len(proofs) > 1:
        raise InvalidDpopProof("send one DPoP header")
    if proofs:
        proof = oauth.dpop.check(
            proofs[0], issuer_id=edge.issuer_id, method="POST", url=endpoint, now=now
        )
    claims, lifetime = client_credentials_claims(
        edge,
        client,
        scope=form.get("scope"),
        resources=form.all("resource"),
        organization=form.get("organization"),
        now=now,
        jti=tokens.new_jti(),
    )
    if proof is not None:
        claims["cnf"] = {"jkt": proof.jkt}
    alg = str(edge.settings["access_token_signing_alg"])
    key = edge.signer(alg, moment.timestamp())
    if key is None:
        fresh = await node.edge.refresh_on_miss(edge.issuer_id)
        key = fresh.signer(alg, moment.timestamp()) if fresh else None
        if key is None:
            raise TemporarilyUnavailable("the issuer has no signing key yet; retry")
    access_token = tokens.mint(key, claims)
    oauth.verified.remember(edge.issuer_id, access_token)
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "DPoP" if proof is not None else "Bearer",
        "expires_in": lifetime,
    }
    if "scope" in claims:
        body["scope"] = claims["scope"]
    headers = JSON_NO_STORE
    if proof is not None:
        headers = [*headers, ("dpop-nonce", oauth.dpop.nonce(edge.issuer_id, now))]
    return Reply(200, headers, orjson.dumps(body))


async def introspect(oauth: OAuth, request: EdgeRequest) -> Reply:
    edge = await _edge(oauth, request.issuer_id)
    edge, _, claims = await _presented_token(oauth, edge, request, "introspect")
    body: dict[str, Any] = {"active": False}
    if claims is not None and _still_vouched(edge, claims):
        body = {
            "active": True,
            **claims,
            "token_type": "DPoP" if "cnf" in claims else "Bearer",
        }
    return Reply(200, JSON_NO_STORE, orjson.dumps(body))


async def revoke(oauth: OAuth, request: EdgeRequest) -> Reply:
    node = oauth.node
    issuer_id = request.issuer_id
    placement = await node.placement(issuer_id)
    if placement is None or placement.status != "active":
        raise NotFoundProblem(f"issuer {issuer_id} not found")
    ensure_region(placement.home_region, node.region)
    edge = await _edge(oauth, issuer_id)
    edge, client, claims = await _presented_token(oauth, edge, request, "revoke")
    # RFC 7009 §2.2: an invalid or unknown token is not an error; nor, so that this endpoint
    # tells nothing about other clients' tokens, is a token issued to another client.
    if claims is not None and claims["client_id"] == client.client_id:
        try:
            await node.shards.get(placement.shard_id).edge.revoke(
                issuer_id, edge.account_id, claims["jti"], int(claims["exp"]), client.client_id
            )
        except StorageError as exc:
            log.error("revocation on %s failed: %s", issuer_id, exc)
            raise TemporarilyUnavailable("the revocation could not be stored; retry") from exc
    return Reply(200, NO_STORE, b"")


async def _presented_token(
    oauth: OAuth, edge: IssuerEdge, request: EdgeRequest, endpoint: str
) -> tuple[IssuerEdge, Authenticated, dict[str, Any] | None]:
    """RFC 7662 §2.1 and RFC 7009 §2.1: the calling client, authenticated at `endpoint`,
    and the claims of the `token` it presents (None when not a valid token of the issuer)."""
    form = await read_form(request)
    edge, client = await oauth.clients.authenticate(
        edge, form, request.header("authorization"), f"{edge.url}/{endpoint}"
    )
    presented = form.get("token")
    if presented is None:
        raise InvalidRequest("token is missing")
    return edge, client, await _read(oauth, edge, presented)


async def _read(oauth: OAuth, edge: IssuerEdge, presented: str) -> dict[str, Any] | None:
    now = oauth.node.clock.now().timestamp()
    known = oauth.verified.recall(edge.issuer_id, presented)
    if known is not None:
        return known if tokens.current(known, now) else None
    kid = tokens.unverified_kid(presented)
    if kid is not None and edge.published(kid, now) is None:
        edge = await oauth.node.edge.refresh_on_miss(edge.issuer_id) or edge
    try:
        claims = tokens.read(edge, presented, now=now)
    except tokens.Unreadable as exc:
        log.debug("token not accepted: %s", exc)
        return None
    oauth.verified.remember(edge.issuer_id, presented)
    return claims


def _still_vouched(edge: IssuerEdge, claims: dict[str, Any]) -> bool:
    """Not revoked, and issued to a client or agent that still exists and is active."""
    if claims["jti"] in edge.revoked:
        return False
    principal = edge.principals.get(claims["client_id"])
    return principal is not None and principal["status"] == "active"


async def jwks(oauth: OAuth, request: EdgeRequest) -> Reply:
    edge = await _edge(oauth, request.issuer_id, problem=True)
    return Reply(200, JWKS_HEADERS, edge.jwks(oauth.node.clock.now().timestamp()))


async def openid_configuration(oauth: OAuth, request: EdgeRequest) -> Reply:
    """Served at `{issuer}/.well-known/openid-configuration`, and, as RFC 8414 §3.1 places
    the metadata of an issuer with a path, at
    `{base}/.well-known/oauth-authorization-server/{issuer_id}`."""
    edge = await _edge(oauth, request.issuer_id, problem=True)
    return Reply.json(
        metadata(edge), headers={"Cache-Control": f"public, max-age={DISCOVERY_MAX_AGE}"}
    )


def metadata(edge: IssuerEdge) -> dict[str, Any]:
    """Exactly what the issuer serves today; later grants add themselves here."""
    issuer = edge.url
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks.json",
        "token_endpoint": f"{issuer}/token",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],  # no authorization endpoint yet
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [edge.settings["id_token_signing_alg"]],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "dpop_signing_alg_values_supported": list(PROOF_ALGS),
    }
