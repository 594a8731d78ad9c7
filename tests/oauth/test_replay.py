"""Seen-once sets: a `jti` is used once, here or, once told, at any other node."""

from __future__ import annotations

from api.oauth.replay import SeenOnce


def test_a_key_is_used_once_until_it_expires() -> None:
    seen = SeenOnce()
    assert seen.first_use("a", expires_at=100.0, now=10.0)
    assert not seen.first_use("a", expires_at=100.0, now=50.0)
    assert seen.first_use("a", expires_at=200.0, now=100.0)  # expired: a new use


def test_first_uses_are_handed_out_once_for_the_peers_when_shared() -> None:
    shared, alone = SeenOnce(shared=True), SeenOnce()
    for seen in (shared, alone):
        seen.first_use("a", expires_at=100.0, now=10.0)
        seen.first_use("a", expires_at=100.0, now=11.0)  # a replay is no news
        seen.first_use("b", expires_at=90.0, now=12.0)
    assert shared.fresh() == [("a", 100.0), ("b", 90.0)]
    assert shared.fresh() == []
    assert alone.fresh() == []


def test_a_use_learned_from_a_peer_refuses_a_replay_here_and_is_not_told_again() -> None:
    seen = SeenOnce(shared=True)
    seen.learn("a", expires_at=100.0, now=10.0)
    seen.learn("old", expires_at=5.0, now=10.0)  # already expired: nothing to keep
    assert not seen.first_use("a", expires_at=100.0, now=20.0)
    assert seen.first_use("old", expires_at=100.0, now=20.0)
    assert seen.fresh() == [("old", 100.0)]


def test_the_set_is_bounded() -> None:
    seen = SeenOnce(capacity=2)
    for key in ("a", "b", "c"):
        assert seen.first_use(key, expires_at=100.0, now=10.0)
    assert seen.first_use("a", expires_at=100.0, now=10.0)  # pushed out by c
