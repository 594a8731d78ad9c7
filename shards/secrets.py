"""High-entropy secrets: shown once, stored as SHA-256 digests, compared in constant time.

Argon2id is for human passwords; a 256-bit random secret needs no slow hash, and a plain
digest keeps authentication at the edge cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

SECRET_BYTES: Final = 32


def new_secret() -> str:
    """A URL-safe secret with 256 bits of entropy."""
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    return hmac.compare_digest(digest(secret).encode(), stored_digest.encode())
