"""The process's secrets as objects: password hasher, envelope, pepper (built once)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from api.settings import Settings
from identity.envelope import Envelope, decode_master_key


@lru_cache(maxsize=1)
def password_hasher() -> PasswordHash:
    """Argon2id with pwdlib's recommended parameters (memory-hard)."""
    return PasswordHash((Argon2Hasher(),))


@lru_cache(maxsize=4)
def envelope_for(master_key: str) -> Envelope:
    return Envelope(decode_master_key(master_key))


def envelope(settings: Settings) -> Envelope:
    return envelope_for(settings.master_key.get_secret_value())
