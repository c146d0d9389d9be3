"""W3C Bitstring Status List v1.0: a gzip-compressed bitstring, multibase base64url encoded.

Bit ``i`` is the ``i``-th bit counting from the most significant bit of the first byte; a set
bit means the credential at that index is revoked. Lists hold at least 131,072 entries (the
spec's minimum, so that one index says little about who it is).
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable

MIN_SIZE = 131_072


class StatusListError(ValueError):
    """An encoded list that does not decode, or an index outside it."""


def encode(set_bits: Iterable[int], size: int = MIN_SIZE) -> str:
    if size % 8:
        raise StatusListError("the size must be a multiple of 8")
    data = bytearray(size // 8)
    for index in set_bits:
        if not 0 <= index < size:
            raise StatusListError(f"index {index} outside a list of {size}")
        data[index // 8] |= 0x80 >> (index % 8)
    compressed = gzip.compress(bytes(data), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()


def decode(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise StatusListError("not a multibase base64url value")
    text = encoded[1:]
    try:
        return gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, OSError, EOFError) as exc:
        raise StatusListError("the list does not decode") from exc


def is_set(bitstring: bytes, index: int) -> bool:
    if not 0 <= index < len(bitstring) * 8:
        raise StatusListError(f"index {index} outside a list of {len(bitstring) * 8}")
    return bool(bitstring[index // 8] & (0x80 >> (index % 8)))
