from __future__ import annotations

import pytest

from shards.ids import ALPHABET, IdGenerator, is_id, new_id, timestamp_ms


def test_an_id_is_its_prefix_and_26_lowercase_base32_characters() -> None:
    value = new_id("usr")
    prefix, body = value.split("_")
    assert prefix == "usr"
    assert len(body) == 26
    assert set(body) <= set(ALPHABET)


def test_ids_sort_in_creation_order_even_within_one_millisecond() -> None:
    generator = IdGenerator()
    ids = [generator.new("evt", now_ms=1_764_000_000_000) for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000


def test_later_milliseconds_sort_later() -> None:
    earlier = IdGenerator().new("org", now_ms=1_900_000_000_000)
    assert IdGenerator().new("org", now_ms=2_000_000_000_000) > earlier


def test_the_creation_time_can_be_read_back() -> None:
    assert timestamp_ms(IdGenerator().new("i", now_ms=1_764_400_000_123)) == 1_764_400_000_123


def test_unknown_prefixes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown id prefix 'user'"):
        new_id("user")


@pytest.mark.parametrize(
    ("value", "prefix", "expected"),
    [
        (new_id("key"), "key", True),
        (new_id("key"), "acct", False),
        ("key_" + "u" * 26, "key", False),  # u is not in Crockford base32
        ("key_" + "0" * 25, "key", False),
        ("KEY_" + "0" * 26, "key", False),
        ("key_" + "0" * 26 + "\n", "key", False),
    ],
)
def test_is_id(value: str, prefix: str, expected: bool) -> None:
    assert is_id(value, prefix) is expected


def test_a_clock_that_steps_back_does_not_reorder_ids() -> None:
    generator = IdGenerator()
    first = generator.new("evt", now_ms=2_000_000_000_000)
    assert generator.new("evt", now_ms=1_999_999_999_000) > first
