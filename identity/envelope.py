"""Envelope encryption: each record has its own data key; a master key wraps the data keys.

AES-256-GCM everywhere (authenticated: a changed byte fails to decrypt). The associated data
binds a ciphertext to its place (table, row, field), so a ciphertext copied to another row
does not decrypt. Deleting a data key erases every value it encrypted (crypto-shredding),
backups included.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
_WRAP_AAD = b"crda/data-key/v1"


class DecryptionFailed(Exception):
    """The ciphertext, its key or its associated data is not the one it was made with."""


def decode_master_key(value: str) -> bytes:
    """A 32-byte master key from its base64url text (padding optional)."""
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if len(raw) != 32:
        raise ValueError("the master key must be 32 bytes (base64url)")
    return raw


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) <= NONCE_BYTES:
        raise DecryptionFailed("ciphertext too short")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise DecryptionFailed("authentication failed") from exc


class Envelope:
    """Makes, wraps and unwraps data keys; encrypts and decrypts values with them."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._master = master_key

    def new_data_key(self) -> tuple[bytes, bytes]:
        """(data key, the same key wrapped by the master key, to store)."""
        key = AESGCM.generate_key(bit_length=256)
        return key, _seal(self._master, key, _WRAP_AAD)

    def unwrap(self, wrapped: bytes) -> bytes:
        return _open(self._master, wrapped, _WRAP_AAD)

    @staticmethod
    def encrypt(data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return _seal(data_key, plaintext, aad)

    @staticmethod
    def decrypt(data_key: bytes, blob: bytes, aad: bytes) -> bytes:
        return _open(data_key, blob, aad)
