"""EIP-712 typed data: the one place the platform builds, hashes, signs and recovers it.

Three kinds of message use it: partners' evidence (``CRDA Evidence``), market orders and their
cancellations (``CRDA Exchange``) and the holder's forwarded requests (``CRDA Forwarder``). Each
domain binds a signature to one chain id and one contract, so a message signed for another
network or another deployment recovers to some other address and is refused.

Documents are hashed by eth-account (``encode_typed_data``); a caller on a hot path that has
hashed its struct itself (the exchange's orders, as ``Exchange.hashOrder`` does) passes the
struct hash to :meth:`TypedDomain.digest_of_struct`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

Types = dict[str, list[dict[str, str]]]

DOMAIN_FIELDS: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


@dataclass(frozen=True)
class TypedDomain:
    """An EIP-712 domain: name, version, chain id and the verifying contract."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        """The domain as wallets and ``eth_signTypedData_v4`` take it."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }

    def document(self, primary_type: str, types: Types, message: dict[str, Any]) -> dict[str, Any]:
        """The full typed-data document a signer is shown."""
        return {
            "types": {"EIP712Domain": DOMAIN_FIELDS, **types},
            "primaryType": primary_type,
            "domain": self.as_dict(),
            "message": message,
        }

    def digest(self, primary_type: str, types: Types, message: dict[str, Any]) -> bytes:
        """The 32-byte digest that is signed (``0x1901 || separator || hashStruct``)."""
        signable = encode_typed_data(full_message=self.document(primary_type, types, message))
        return bytes(_hash_eip191_message(signable))

    @cached_property
    def separator(self) -> bytes:
        return keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    _DOMAIN_TYPEHASH,
                    keccak(text=self.name),
                    keccak(text=self.version),
                    self.chain_id,
                    to_checksum_address(self.verifying_contract),
                ],
            )
        )

    def digest_of_struct(self, struct_hash: bytes) -> bytes:
        """The digest of a struct the caller hashed itself (a contract's own hashing)."""
        return keccak(b"\x19\x01" + self.separator + struct_hash)


def sign_digest(digest: bytes, signer: LocalAccount | str | bytes) -> bytes:
    """A 65-byte signature of ``digest`` (a typed-data digest, never a raw message)."""
    account = signer if isinstance(signer, LocalAccount) else Account.from_key(signer)
    return bytes(account.unsafe_sign_hash(Hash32(digest)).signature)


def recover_digest(digest: bytes, signature: bytes | str) -> str:
    """The address that signed ``digest``; ``ValueError`` for a signature that cannot be read."""
    raw = bytes(HexBytes(signature))
    if len(raw) != 65:
        raise ValueError(f"a signature has 65 bytes, not {len(raw)}")
    try:
        return str(Account._recover_hash(digest, signature=raw))
    except Exception as exc:  # eth-keys raises several types for a bad signature
        raise ValueError(str(exc)) from exc


def signer_of(digest: bytes, signature: bytes | str) -> str | None:
    """The address that signed ``digest``, or None for a malformed signature."""
    try:
        return recover_digest(digest, signature)
    except ValueError:
        return None
