"""EIP-712 typed data: the one place the platform builds, hashes, signs and recovers it.

Three kinds of message use it: partners' evidence (``CRDA Evidence``), market orders and their
cancellations (``CRDA Exchange``) and the holder's forwarded requests (``CRDA Forwarder``). Each
domain binds a signature to one chain id and one contract, so a message signed for another
network or another deployment recovers to some other address and is refused.

Structs are hashed here (:func:`hash_struct`: EIP-712's ``encodeType``/``encodeData`` with
eth-abi and keccak, type hashes computed once per type set), not by eth-account's
``encode_typed_data``, which validates and re-walks the whole document on every call and cost
more than the signature recovery on the evidence path; ``tests/unit/test_eip712.py`` proves the
two equal on random documents of every type set the platform signs. A caller that has hashed
its struct itself (the exchange's orders, as ``Exchange.hashOrder`` does) passes the struct hash
to :meth:`TypedDomain.digest_of_struct`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from coincurve import PublicKey
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account._utils.signing import to_standard_signature_bytes
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak as keccak256
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
        return self.digest_of_struct(hash_struct(primary_type, types, message))

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
        return keccak256(b"\x19\x01" + self.separator + struct_hash)


# (primary type, id of its type set) -> (the type set, the type hash): computed once per type set
# (the platform's are module constants; the set is kept so a reused id cannot alias another).
_TYPE_HASHES: dict[tuple[str, int], tuple[Types, bytes]] = {}


def _base(type_name: str) -> str:
    return type_name.split("[", 1)[0]


def encode_type(primary_type: str, types: Types) -> str:
    """EIP-712 ``encodeType``: the primary type, then the struct types it references, sorted."""
    found: set[str] = set()
    pending = [primary_type]
    while pending:
        name = pending.pop()
        if name in found or name not in types:
            continue
        found.add(name)
        pending.extend(_base(field["type"]) for field in types[name])
    ordered = [primary_type, *sorted(found - {primary_type})]
    members = {name: ",".join(f"{f['type']} {f['name']}" for f in types[name]) for name in ordered}
    return "".join(f"{name}({members[name]})" for name in ordered)


def type_hash(primary_type: str, types: Types) -> bytes:
    cached = _TYPE_HASHES.get((primary_type, id(types)))
    if cached is not None and cached[0] is types:
        return cached[1]
    found = keccak(text=encode_type(primary_type, types))
    _TYPE_HASHES[(primary_type, id(types))] = (types, found)
    return found


def _as_bytes(value: Any) -> bytes:
    return bytes(HexBytes(value)) if isinstance(value, str) else bytes(value)


@lru_cache(maxsize=65536)
def _address_word(value: str) -> bytes:
    """An address as its ABI word; eth-abi's checks (a mixed-case address must carry its EIP-55
    checksum), made once per address: the checksum is a keccak, and addresses repeat."""
    return bytes(abi_encode(["address"], [value]))


def _int_word(type_name: str, value: Any) -> bytes | None:
    """``uintN``/``intN`` as a word, range-checked as eth-abi does; None for other types."""
    signed = type_name.startswith("int")
    if not (signed or type_name.startswith("uint")) or type(value) is not int:
        return None
    bits = int(type_name[3 if signed else 4 :] or 256)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
    if not low <= value < high:
        raise ValueError(f"{value} does not fit {type_name}")
    return value.to_bytes(32, "big", signed=signed)


def _word(type_name: str, types: Types, value: Any) -> bytes:
    """EIP-712 ``encodeData`` of one member: 32 bytes."""
    if type_name.endswith("]"):
        element = type_name[: type_name.rindex("[")]
        return keccak256(b"".join(_word(element, types, item) for item in value))
    if type_name in types:
        return hash_struct(type_name, types, value)
    if type_name == "string":
        return keccak256(value.encode())
    if type_name == "bytes":
        return keccak256(_as_bytes(value))
    if type_name == "address" and isinstance(value, str):
        return _address_word(value)
    word = _int_word(type_name, value)
    if word is not None:
        return word
    if type_name.startswith("bytes"):
        value = _as_bytes(value)
    return bytes(abi_encode([type_name], [value]))


def hash_struct(primary_type: str, types: Types, message: dict[str, Any]) -> bytes:
    """EIP-712 ``hashStruct(message)`` = keccak(typeHash || encodeData(message))."""
    encoded = b"".join(_word(f["type"], types, message[f["name"]]) for f in types[primary_type])
    return keccak256(type_hash(primary_type, types) + encoded)


def sign_digest(digest: bytes, signer: LocalAccount | str | bytes) -> bytes:
    """A 65-byte signature of ``digest`` (a typed-data digest, never a raw message)."""
    account = signer if isinstance(signer, LocalAccount) else Account.from_key(signer)
    return bytes(account.unsafe_sign_hash(Hash32(digest)).signature)


def recover_digest(digest: bytes, signature: bytes | str) -> str:
    """The address that signed ``digest``; ``ValueError`` for a signature that cannot be read.

    What eth-account's ``_recover_hash`` does (its ``v`` normalisation, then libsecp256k1's
    recovery through coincurve, as eth-keys' coincurve backend calls it), without its object
    layers; the address's EIP-55 form is cached (signers repeat: partners, makers)."""
    raw = bytes(HexBytes(signature))
    if len(raw) != 65:
        raise ValueError(f"a signature has 65 bytes, not {len(raw)}")
    try:
        standard = to_standard_signature_bytes(raw)
        if standard[64] not in (0, 1):
            raise ValueError(f"v must be 0 or 1 once normalised, not {standard[64]}")
        public = PublicKey.from_signature_and_message(standard, digest, hasher=None)
    except Exception as exc:  # coincurve and the normalisation raise several types
        raise ValueError(str(exc)) from exc
    return _checksummed(keccak256(public.format(compressed=False)[1:])[-20:])


@lru_cache(maxsize=65536)
def _checksummed(address: bytes) -> str:
    return str(to_checksum_address(address))


def signer_of(digest: bytes, signature: bytes | str) -> str | None:
    """The address that signed ``digest``, or None for a malformed signature."""
    try:
        return recover_digest(digest, signature)
    except ValueError:
        return None
