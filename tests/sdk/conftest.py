from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from authpi_idp import TokenVerifier
from tests.sdk.issuer import AUDIENCE, Clock, LoopbackIssuer, running_issuer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def loopback_issuer() -> Iterator[LoopbackIssuer]:
    """One server (and one set of generated keys) for the whole run."""
    with running_issuer(Clock()) as issuer:
        yield issuer


@pytest.fixture
def issuer(loopback_issuer: LoopbackIssuer, clock: Clock) -> LoopbackIssuer:
    loopback_issuer.reset(clock)
    return loopback_issuer


@pytest.fixture
async def verifier(issuer: LoopbackIssuer, clock: Clock) -> AsyncIterator[TokenVerifier]:
    async with TokenVerifier(issuer.issuer, AUDIENCE, clock=clock) as verifier:
        yield verifier
