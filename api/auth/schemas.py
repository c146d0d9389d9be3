"""Request and response bodies of accounts, sign-in and wallets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, SecretStr, model_validator


class PersonalDataIn(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 \-]{6,20}$")
    birth_date: date | None = None


class PersonalDataPublic(BaseModel):
    name: str | None
    phone: str | None
    birth_date: date | None
    erased: bool = False


class SignUp(PersonalDataIn):
    email: EmailStr
    password: SecretStr = Field(min_length=10, max_length=256)
    role: Literal["citizen", "business"] = "citizen"


class SignIn(BaseModel):
    email: str = Field(max_length=254)
    password: SecretStr = Field(max_length=256)


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int
    refresh_token: str
    account_id: str


class SiweNonceOut(BaseModel):
    nonce: str
    expires_at: datetime
    domain: str
    chain_id: int


class SiweIn(BaseModel):
    message: str = Field(min_length=10, max_length=4000)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class AccountPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str | None
    role: str
    verifier_id: str | None
    created_at: datetime
    erased_at: datetime | None


class WalletCreate(BaseModel):
    """``platform``: the platform makes and keeps the key. ``self``: prove the address (SIWE)."""

    custody: Literal["platform", "self"]
    message: str | None = Field(default=None, max_length=4000)
    signature: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{130}$")

    @model_validator(mode="after")
    def _proof_for_self_custody(self) -> WalletCreate:
        if self.custody == "self" and (not self.message or not self.signature):
            raise ValueError("self custody needs a signed SIWE message and its signature")
        return self


class WalletPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    address: str
    custody: str
    created_at: datetime


class ErasureOut(BaseModel):
    erased_at: datetime
