"""The node's memory of verified tokens: bounded, per issuer, exact."""

from __future__ import annotations

import base64

import orjson

from api.oauth.tokens import VerifiedTokens


def token(n: int, signature: str = "c2ln") -> str:
    payload = base64.urlsafe_b64encode(orjson.dumps({"jti": f"t{n}"})).rstrip(b"=").decode()
    return f"eyJhbGciOiJFUzI1NiJ9.{payload}.{signature}"


def test_a_remembered_token_is_recalled_with_its_claims_for_its_issuer_only() -> None:
    memory = VerifiedTokens(capacity=8)
    memory.remember("iss_a", token(1))
    assert memory.recall("iss_a", token(1)) == {"jti": "t1"}
    assert memory.recall("iss_b", token(1)) is None


def test_the_same_claims_under_another_signature_are_not_recalled() -> None:
    memory = VerifiedTokens(capacity=8)
    memory.remember("iss_a", token(1))
    assert memory.recall("iss_a", token(1, signature="Zm9yZ2Vk")) is None


def test_memory_is_bounded_and_the_oldest_tokens_go_first() -> None:
    memory = VerifiedTokens(capacity=8)
    for n in range(12):
        memory.remember("iss_a", token(n))
    assert [n for n in range(12) if memory.recall("iss_a", token(n))] == list(range(4, 12))
    for n in range(12, 20):
        memory.remember("iss_a", token(n))
    held = [n for n in range(20) if memory.recall("iss_a", token(n))]
    assert len(held) <= 8
    assert held == list(range(20 - len(held), 20))
