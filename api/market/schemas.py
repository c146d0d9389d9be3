"""Market request and response shapes (``XCreate`` in, ``XPublic`` out)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from api.market.eip712 import Order, Side
from api.market.models import MarketOrder

HexSignature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]
Uint256Text = Annotated[str, Field(pattern=r"^[0-9]{1,78}$")]


class OrderCreate(BaseModel):
    """A maker's signed order: the EIP-712 ``Order`` fields and the maker's signature."""

    model_config = ConfigDict(extra="forbid")

    maker: str = Field(description="The maker's chain address.")
    side: Literal["buy", "sell"]
    price: StrictInt = Field(description="Won per kilogram.")
    quantity: StrictInt = Field(description="Grams, a whole number of kilograms.")
    expiry: StrictInt = Field(description="Unix seconds.")
    nonce: Uint256Text | StrictInt = Field(description="uint256, decimal (text beyond 2**53).")
    signature: HexSignature

    @field_validator("nonce")
    @classmethod
    def _nonce_is_int(cls, value: str | int) -> int:
        return int(value)

    def order(self) -> Order:
        side = Side.buy if self.side == "buy" else Side.sell
        return Order(self.maker, side, self.price, self.quantity, self.expiry, int(self.nonce))

    def signature_bytes(self) -> bytes:
        return bytes.fromhex(self.signature[2:])


class OrderCancel(BaseModel):
    """The maker's EIP-712 ``Cancel(orderHash)`` signature."""

    model_config = ConfigDict(extra="forbid")

    signature: HexSignature

    def signature_bytes(self) -> bytes:
        return bytes.fromhex(self.signature[2:])


class OrderPublic(BaseModel):
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
    price: int
    quantity: int
    orders: int


class OrderBookPublic(BaseModel):
    buy: list[BookLevelPublic]
    sell: list[BookLevelPublic]
