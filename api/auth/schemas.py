"""Request and response bodies of accounts, sign-in and wallets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

import email_validator
from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, SecretStr

from api import examples as ex
from api.timeutil import UtcDateTime

# An EIP-4361 message is a few hundred characters (with resources, rarely over a thousand);
# the siwe parser's time grows with the square of the length (4000 characters: seconds).
SIWE_MESSAGE_MAX = 1500


def _date_text(value: object) -> object:
    """A date is `YYYY-MM-DD` text, as the document says: not a number (lax validation would
    read 0 as 1970-01-01)."""
    if value is not None and not isinstance(value, str | date):
        raise ValueError("a date is YYYY-MM-DD text")
    return value


@dataclass(frozen=True)
class Holder:
    """Who earns, holds, trades and retires: a citizen's or business's wallet address and
    account id, filled in by the auth dependency (``CurrentHolder``), never from a body."""

    address: str
    account_id: str | None = None


class PersonalDataIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Kim Minji", "phone": "+82 10 1234 5678", "birth_date": "1990-01-01"}
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 \-]{6,20}$")
    birth_date: Annotated[date | None, BeforeValidator(_date_text)] = None


class PersonalDataPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Kim Minji",
                    "phone": "+82 10 1234 5678",
                    "birth_date": "1990-01-01",
                    "erased": False,
                }
            ]
        }
    )

    name: str | None
    phone: str | None
    birth_date: date | None
    erased: bool = False


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


# EmailStr (email-validator) refuses an address at a special-use domain (RFC 6761: .test,
# .localhost, ...) that `format: email` allows: the pattern says so, from the library's own list.
EMAIL_NOT_SPECIAL_USE = (
    r"^(?!.*[.@](?:"
    + "|".join(_any_case(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)
    + r")$)"
)


class SignUp(PersonalDataIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "minji@example.org",
                    "password": "correct horse battery",
                    "role": "citizen",
                    "name": "Kim Minji",
                    "phone": "+82 10 1234 5678",
                    "birth_date": "1990-01-01",
                }
            ]
        }
    )

    email: EmailStr = Field(
        max_length=254,
        json_schema_extra={"pattern": EMAIL_NOT_SPECIAL_USE},
        description=(
            "An email address; not at a special-use domain (RFC 6761: `.test`, `.local`, "
            "`.localhost`, `.invalid`, `.onion`, `.arpa`), which cannot receive mail."
        ),
    )
    password: SecretStr = Field(min_length=10, max_length=256)
    role: Literal["citizen", "business"] = "citizen"


class SignIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "minji@example.org", "password": "correct horse battery"}]
        }
    )

    email: str = Field(max_length=254)
    password: SecretStr = Field(max_length=256)


class RefreshIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": "k3JzQ2x0cGVyZnJlc2h0b2tlbg"}]}
    )

    refresh_token: str = Field(min_length=10, max_length=200)


class TokenPair(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": (
                        "eyJhbGciOiJFUzI1NiIsImtpZCI6ImRldi0xIn0.eyJzdWIiOiIzZjBjIn0.c2ln"
                    ),
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "refresh_token": "k3JzQ2x0cGVyZnJlc2h0b2tlbg",
                    "account_id": "3f0c2a9e-5b1d-4c6e-9a7f-2d8e1b4c6a10",
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int
    refresh_token: str
    account_id: str


class SiweNonceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "nonce": "Xk2b9Qm1T0aL",
                    "expires_at": "2026-11-23T11:45:00Z",
                    "domain": "crda.incheon.go.kr",
                    "chain_id": ex.CHAIN_ID,
                }
            ]
        }
    )

    nonce: str
    expires_at: UtcDateTime
    domain: str
    chain_id: int


class SiweIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"message": ex.SIWE_MESSAGE, "signature": ex.SIWE_SIGNATURE}]
        }
    )

    message: str = Field(min_length=10, max_length=SIWE_MESSAGE_MAX)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class AccountPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "3f0c2a9e-5b1d-4c6e-9a7f-2d8e1b4c6a10",
                    "email": "minji@example.org",
                    "role": "citizen",
                    "verifier_id": None,
                    "created_at": "2026-11-23T11:40:00Z",
                    "erased_at": None,
                }
            ]
        },
    )

    id: str
    email: str | None
    role: str
    verifier_id: str | None
    created_at: UtcDateTime
    erased_at: UtcDateTime | None


class PlatformWalletCreate(BaseModel):
    """The platform makes the key and keeps it (it signs for the holder)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"custody": "platform"}]}
    )

    custody: Literal["platform"]


class SelfWalletCreate(BaseModel):
    """The holder keeps the key and proves the address with a signed SIWE message."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"custody": "self", "message": ex.SIWE_MESSAGE, "signature": ex.SIWE_SIGNATURE}
            ]
        },
    )

    custody: Literal["self"]
    message: str = Field(
        min_length=1, max_length=SIWE_MESSAGE_MAX, description="The EIP-4361 message."
    )
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="Its signature.")


# One body, two shapes told apart by ``custody`` (a ``oneOf`` with a discriminator in the
# document, so a generated client has a type for each and cannot send a half-proven wallet).
WalletCreate = Annotated[PlatformWalletCreate | SelfWalletCreate, Field(discriminator="custody")]


class WalletPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                    "custody": "platform",
                    "created_at": "2026-11-23T11:41:00Z",
                }
            ]
        },
    )

    address: str
    custody: str
    created_at: UtcDateTime


class ErasureOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"erased_at": "2026-11-23T15:02:00Z"}]}
    )

    erased_at: UtcDateTime
