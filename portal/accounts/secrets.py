"""Second-factor secrets (TOTP keys, recovery-code seeds) are encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from SECRET_KEY, so a
copy of the database alone does not give anyone a person's second factor.
SECRET_KEY_FALLBACKS still decrypt, so the key can be rotated; a secret stored
before encryption was introduced (no prefix) is read as it is.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "fernet:"


def _derive(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal.accounts.mfa-secrets"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_derive(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet((settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])))


def encrypt_secret(text: str) -> str:
    return PREFIX + _current().encrypt(text.encode()).decode()


def decrypt_secret(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # stored in the clear before encryption was introduced
    return _current().decrypt(stored.removeprefix(PREFIX).encode()).decode()


def secrets_rotate() -> int:
    """Re-encrypt every second-factor secret under the current SECRET_KEY.

    Run it after a key rotation, before the old key leaves SECRET_KEY_FALLBACKS:
    secrets still encrypted under a dropped key could not be read again.
    Returns how many authenticators were rewritten.
    """
    from allauth.mfa.models import Authenticator
    from django.db import transaction

    fernet = _current()
    changed = 0
    with transaction.atomic():
        for authenticator in Authenticator.objects.select_for_update().exclude(
            type=Authenticator.Type.WEBAUTHN
        ):
            data = dict(authenticator.data)
            for field in ("secret", "seed"):
                value = data.get(field)
                if not isinstance(value, str):
                    continue
                if value.startswith(PREFIX):
                    token = fernet.rotate(value.removeprefix(PREFIX).encode()).decode()
                    data[field] = PREFIX + token
                else:
                    data[field] = encrypt_secret(value)  # one stored before encryption
            if data != authenticator.data:
                authenticator.data = data
                authenticator.save(update_fields=["data"])
                changed += 1
    return changed
