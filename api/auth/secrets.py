"""The process's secrets as objects: password hasher, envelope, pepper (built once)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from api.settings import Settings
from identity.envelope import Envelope, decode_master_key


@lru_cache(maxsize=1)
def password_hasher() -> PasswordHash:
    """Argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane).

    Memory-hard either way; pwdlib's default (64 MiB, 3 passes, 4 lanes) costs ~4x more CPU on
    this 2-core class of machine for little gain. Hashes made with other parameters still
    verify and are re-hashed at the next sign-in.
    """
    return PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19_456, parallelism=1),))


@lru_cache(maxsize=4)
def envelope_for(master_key: str) -> Envelope:
    return Envelope(decode_master_key(master_key))


def envelope(settings: Settings) -> Envelope:
    return envelope_for(settings.master_key.get_secret_value())
