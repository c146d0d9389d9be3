"""Market request and response shapes (``XCreate`` in, ``XPublic`` out)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from api import examples as ex
from api.chain.eip712 import DOMAIN_FIELDS
from api.fields import Address, address_field
from api.market.eip712 import ORDER_TYPES, Order, Side
from api.market.models import Asset, MarketOrder

HexSignature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]
Uint256Text = Annotated[str, Field(pattern=r"^[0-9]{1,78}$")]

# What a wallet is given for an order (the example of ``OrderDomainPublic``).
_ORDER_DOCUMENT_TYPES: Any = {"EIP712Domain": DOMAIN_FIELDS, **ORDER_TYPES}


class OrderCreate(BaseModel):
    """A maker's signed order: the EIP-712 ``Order`` fields and the maker's signature."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "maker": ex.BUYER,
                    "side": "buy",
                    "price": 1250,
                    "quantity": 2000,
                    "expiry": 1796048642,
                    "nonce": "1",
                    "signature": ex.ORDER_SIGNATURE,
                }
            ]
        },
        extra="forbid",
    )

    maker: Annotated[Address, address_field("The maker's chain address.")]
    side: Literal["buy", "sell"]
    price: StrictInt = Field(description="Won per kilogram.")
    quantity: StrictInt = Field(description="Grams, a whole number of kilograms.")
    expiry: StrictInt = Field(description="Unix seconds.")
    nonce: Uint256Text | StrictInt = Field(description="uint256, decimal (text beyond 2**53).")
    signature: HexSignature | None = Field(
        default=None,
        description="The maker's EIP-712 signature; omit it for a platform-custody wallet.",
    )

    @field_validator("nonce")
    @classmethod
    def _nonce_is_int(cls, value: str | int) -> int:
        return int(value)

    def order(self) -> Order:
        side = Side.buy if self.side == "buy" else Side.sell
        return Order(self.maker, side, self.price, self.quantity, self.expiry, int(self.nonce))

    def signature_bytes(self) -> bytes | None:
        return bytes.fromhex(self.signature[2:]) if self.signature else None


class OrderCancel(BaseModel):
    """The maker's EIP-712 ``Cancel(orderHash)`` signature."""

    model_config = ConfigDict(extra="forbid")

    signature: HexSignature

    def signature_bytes(self) -> bytes:
        return bytes.fromhex(self.signature[2:])


class OrderPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "order_hash": ex.ORDER_HASH,
                    "maker": ex.CITIZEN,
                    "side": "sell",
                    "price": 1200,
                    "quantity": 3000,
                    "filled": 2000,
                    "expiry": 1796048642,
                    "nonce": "1795443842583",
                    "status": "open",
                    "cancel_reason": None,
                }
            ]
        }
    )

    id: int
    order_hash: str
    maker: str
    side: str
    price: int
    quantity: int
    filled: int
    expiry: int
    nonce: str
    status: str
    cancel_reason: str | None

    @classmethod
    def of(cls, row: MarketOrder) -> OrderPublic:
        return cls(
            id=row.id,
            order_hash=row.order_hash,
            maker=row.maker,
            side=row.side,
            price=row.price,
            quantity=row.quantity,
            filled=row.filled,
            expiry=row.expiry,
            nonce=row.nonce,
            status=str(row.status),
            cancel_reason=row.cancel_reason,
        )


class BookLevelPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"price": 1200, "quantity": 1000, "orders": 1}]}
    )

    price: int
    quantity: int
    orders: int


class OrderBookPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"buy": [], "sell": [{"price": 1200, "quantity": 1000, "orders": 1}]}]
        }
    )

    buy: list[BookLevelPublic]
    sell: list[BookLevelPublic]


class BalancePublic(BaseModel):
    """What the holder has of one asset: free to trade, retire or withdraw (``available``),
    reserved by open orders and unsettled fills (``escrow``), on its way out (``withdrawing``:
    a payout or retirement not yet confirmed). ``total`` equals the on-chain balance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "asset": "CRDA",
                    "available": 1550,
                    "escrow": 1000,
                    "withdrawing": 0,
                    "total": 2550,
                }
            ]
        }
    )

    asset: Asset
    available: int
    escrow: int
    withdrawing: int
    total: int


class OrderDomainPublic(BaseModel):
    """The EIP-712 domain and types a self-custody wallet signs orders with."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "domain": {
                        "name": "CRDA Exchange",
                        "version": "1",
                        "chainId": ex.CHAIN_ID,
                        "verifyingContract": ex.EXCHANGE,
                    },
                    "types": _ORDER_DOCUMENT_TYPES,
                    "primary_type": "Order",
                }
            ]
        }
    )

    domain: dict[str, Any]
    types: dict[str, list[dict[str, str]]]
    primary_type: str


class TradePublic(BaseModel):
    """One settled fill seen by one of its sides (no counterparty identity)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fill_id": ex.FILL_ID,
                    "side": "sell",
                    "price": 1200,
                    "quantity": 2000,
                    "won": 2400,
                    "settled_at": "2026-11-23T14:24:03.292689Z",
                }
            ]
        }
    )

    fill_id: str
    side: Literal["buy", "sell"]
    price: int = Field(description="Won per kilogram.")
    quantity: int = Field(description="Grams.")
    won: int
    settled_at: str | None


class StatementLine(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": 6,
                    "kind": "fill",
                    "reference": ex.FILL_ID,
                    "created_at": "2026-11-23T14:24:03.292689Z",
                    "amount": -2000,
                    "balance": 2550,
                }
            ]
        }
    )

    transaction_id: int
    kind: str
    reference: str
    created_at: str
    amount: int = Field(description="Signed change of the holder's total (grams or won).")
    balance: int = Field(description="Running balance after this line.")


class MoneyMovementCreate(BaseModel):
    """An operator's confirmed bank deposit or payout for one account, in whole won."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"account_id": ex.BUYER_ID, "amount": 50000, "reference": "KB-20260512-88213"}
            ]
        },
        extra="forbid",
    )

    account_id: str
    amount: StrictInt = Field(gt=0, le=10**15, description="Whole won.")
    reference: str = Field(min_length=1, max_length=100, description="The bank's reference.")


class MoneyMovementPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "kind": "deposit",
                    "address": ex.BUYER,
                    "amount": 50000,
                    "reference": "KB-20260512-88213",
                    "status": "pending",
                }
            ]
        }
    )

    id: int
    kind: str
    address: str
    amount: int
    reference: str
    status: str
