"""Encryption at rest for sensitive fields (IBAN, …) and keyed fingerprints for lookups."""

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("KRING_ENCRYPTION_KEYS is empty: sensitive data cannot be stored.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _keys() -> tuple[str, ...]:
    return tuple(settings.ENCRYPTION_KEYS)


def encrypt(plaintext: str) -> str:
    return _fernet(_keys()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(_keys()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored value cannot be decrypted with the configured KRING_ENCRYPTION_KEYS."
        ) from exc


def fingerprint(value: str) -> str:
    """A keyed hash that lets us find equal values (e.g. the same IBAN) without decrypting."""
    key = hashlib.sha256(("kring-fingerprint:" + _keys()[-1]).encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
