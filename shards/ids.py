"""Identifiers: `<prefix>_<26 lowercase base32 characters>`, time-ordered like ULIDs.

The first 10 characters encode the creation time in milliseconds (48 bits), the last 16 are
80 random bits. Within one process, ids minted in the same millisecond increment the random
part, so ids sort in creation order and cursors over them stay stable.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from typing import Final

ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase
BODY_LENGTH: Final = 26
_RANDOM_BITS: Final = 80
_ID_PATTERN: Final = re.compile(rf"^([a-z]+)_([{ALPHABET}]{{{BODY_LENGTH}}})$")

PREFIXES: Final = frozenset(
    {
        "acct", "key", "i", "shd", "usr", "org", "mem", "inv", "grp", "c", "agt", "ver",
        "ptk", "s", "conn", "pk", "evt", "wh", "dlv", "gm",
    }
)  # fmt: skip


class IdGenerator:
    """Mints ids that strictly increase, even within one millisecond."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self, prefix: str, *, now_ms: int | None = None) -> str:
        """A fresh id such as `usr_01jd8k2v6m4q9x7c3n5b8r2t0w`."""
        if prefix not in PREFIXES:
            raise ValueError(f"unknown id prefix {prefix!r}")
        ms, random = self._next(time.time_ns() // 1_000_000 if now_ms is None else now_ms)
        return f"{prefix}_{_encode((ms << _RANDOM_BITS) | random)}"

    def _next(self, now_ms: int) -> tuple[int, int]:
        with self._lock:
            if now_ms <= self._last_ms:
                now_ms = self._last_ms
                self._last_random += 1
                if self._last_random >= 1 << _RANDOM_BITS:  # 2^80 ids in one ms: wait it out
                    now_ms += 1
                    self._last_random = secrets.randbits(_RANDOM_BITS - 1)
            else:
                self._last_random = secrets.randbits(_RANDOM_BITS - 1)
            self._last_ms = now_ms
            return now_ms, self._last_random


new_id: Final = IdGenerator().new


def is_id(value: str, prefix: str) -> bool:
    """Whether `value` is a well-formed id with this prefix."""
    match = _ID_PATTERN.fullmatch(value)
    return match is not None and match.group(1) == prefix


def timestamp_ms(value: str) -> int:
    """The creation time, in Unix milliseconds, encoded in an id."""
    body = value.rsplit("_", 1)[-1]
    number = 0
    for char in body:
        number = number * 32 + ALPHABET.index(char)
    return number >> _RANDOM_BITS


def _encode(number: int) -> str:
    chars = []
    for _ in range(BODY_LENGTH):
        chars.append(ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(chars))
