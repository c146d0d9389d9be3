"""EIP-712 orders and cancellations of the Exchange contract (hashed as the contract does,
signed and recovered through ``api.chain.eip712``).

The digests are computed exactly as ``Exchange.hashOrder`` does (domain ``CRDA Exchange`` /
``1`` / chain id / exchange address), so an order signed for another chain or another contract
recovers to some other address and is refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum
from functools import cached_property
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from api.chain.addresses import checksum
from api.chain.eip712 import TypedDomain, hash_struct, sign_digest, signer_of

DOMAIN_NAME = "CRDA Exchange"
DOMAIN_VERSION = "1"
# Grams per lot: quantities are whole kilograms, so won = price (per kg) x kilograms, exactly.
LOT_GRAMS = 1000

ORDER_TYPEHASH = keccak(
    text="Order(address maker,uint8 side,uint256 price,uint256 quantity,uint64 expiry,"
    "uint256 nonce)"
)
CANCEL_TYPEHASH = keccak(text="Cancel(bytes32 orderHash)")
ORDER_TYPES: dict[str, list[dict[str, str]]] = {
    "Order": [
        {"name": "maker", "type": "address"},
        {"name": "side", "type": "uint8"},
        {"name": "price", "type": "uint256"},
        {"name": "quantity", "type": "uint256"},
        {"name": "expiry", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
    ]
}


class Side(IntEnum):
    buy = 0
    sell = 1


@dataclass(frozen=True)
class Order:
    """A limit order: ``price`` won per kilogram, ``quantity`` grams (whole kilograms)."""

    maker: str
    side: Side
    price: int
    quantity: int
    expiry: int
    nonce: int

    def as_tuple(self) -> tuple[str, int, int, int, int, int]:
        """The ``IExchange.Order`` struct as web3 takes it."""
        return (
            to_checksum_address(self.maker),
            int(self.side),
            self.price,
            self.quantity,
            self.expiry,
            self.nonce,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["side"] = int(self.side)
        data["nonce"] = str(self.nonce)
        return data


def won_of(price: int, quantity: int) -> int:
    """Won paid for ``quantity`` grams at ``price`` won per kilogram: exact, whole lots only."""
    if quantity % LOT_GRAMS:
        raise ValueError("quantity is not a whole number of kilogram lots")
    return price * (quantity // LOT_GRAMS)


@dataclass(frozen=True)
class Domain:
    """The exchange's EIP-712 domain (``CRDA Exchange`` / ``1`` / chain id / exchange)."""

    chain_id: int
    exchange: str

    @cached_property
    def typed(self) -> TypedDomain:
        return TypedDomain(DOMAIN_NAME, DOMAIN_VERSION, self.chain_id, self.exchange)

    @property
    def separator(self) -> bytes:
        return self.typed.separator

    def _digest(self, struct_hash: bytes) -> bytes:
        return self.typed.digest_of_struct(struct_hash)

    def order_hash(self, order: Order) -> bytes:
        """``Exchange.hashOrder``: the struct hashed by ``hash_struct`` (a quarter of eth-abi's
        cost; every order placed is hashed)."""
        message = {
            "maker": checksum(order.maker),
            "side": int(order.side),
            "price": order.price,
            "quantity": order.quantity,
            "expiry": order.expiry,
            "nonce": order.nonce,
        }
        return self._digest(hash_struct("Order", ORDER_TYPES, message))

    def cancel_hash(self, order: Order) -> bytes:
        struct = abi_encode(["bytes32", "bytes32"], [CANCEL_TYPEHASH, self.order_hash(order)])
        return self._digest(keccak(struct))

    def sign_order(self, order: Order, signer: LocalAccount) -> bytes:
        return sign_digest(self.order_hash(order), signer)

    def sign_cancel(self, order: Order, signer: LocalAccount) -> bytes:
        return sign_digest(self.cancel_hash(order), signer)

    def order_signer(self, order: Order, signature: bytes) -> str | None:
        """The address that signed ``order`` (None for a malformed signature)."""
        return recover(self.order_hash(order), signature)

    def cancel_signer(self, order: Order, signature: bytes) -> str | None:
        return recover(self.cancel_hash(order), signature)

    def typed_data(self, order: Order) -> dict[str, Any]:
        """The full EIP-712 message a wallet shows and signs (``eth_signTypedData_v4``)."""
        return self.typed.document(
            "Order",
            ORDER_TYPES,
            {
                "maker": to_checksum_address(order.maker),
                "side": int(order.side),
                "price": order.price,
                "quantity": order.quantity,
                "expiry": order.expiry,
                "nonce": order.nonce,
            },
        )


def recover(digest: bytes, signature: bytes) -> str | None:
    """The address that signed ``digest`` (None for a malformed signature)."""
    return signer_of(digest, signature)
