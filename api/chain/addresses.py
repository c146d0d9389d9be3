"""Addresses in one format: EIP-55 checksummed strings, the zero address spelled once."""

from __future__ import annotations

from functools import lru_cache

from eth_utils import is_address, to_checksum_address

from api.errors import ValidationFailed
from api.i18n import msg

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def checksum(address: str) -> str:
    """``address`` in EIP-55 form (how every address is stored, compared and shown); a value
    that is no address is a 422."""
    if not isinstance(address, str):
        raise ValidationFailed(msg("{address!r} is not an address", address=address))
    return _checksummed(address)


@lru_cache(maxsize=65536)
def _checksummed(address: str) -> str:
    """Addresses repeat (a maker's every order): the check and the keccak once per spelling."""
    if not is_address(address):
        raise ValidationFailed(msg("{address!r} is not an address", address=address))
    return str(to_checksum_address(address))
