"""The token format: a recognisable prefix and 40 random base62 characters (238 bits).

The prefix lets secret scanners and people recognise a leaked portal token;
base62 keeps the whole token one word to double-click. Only the SHA-256 hash
is stored: the secret has far too much entropy for a slow hash to matter.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string

TOKEN_PREFIX = "cpat_"  # noqa: S105 - the public prefix, not a secret
SECRET_LENGTH = 40
HINT_LENGTH = 6
_ALPHABET = string.ascii_letters + string.digits
TOKEN_PATTERN = re.compile(rf"^{TOKEN_PREFIX}[A-Za-z0-9]{{{SECRET_LENGTH}}}$")


def generate() -> str:
    return TOKEN_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hint_of(token: str) -> str:
    return token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + HINT_LENGTH]


def looks_like_token(value: str) -> bool:
    return TOKEN_PATTERN.match(value) is not None
