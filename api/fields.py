"""Request field types that state in the OpenAPI document what the API enforces.

A generated client (and the fuzzer) trusts the document: a value it calls valid is never
refused as malformed. So a constraint lives in the type, where both the validation and the
schema read it.

Addresses: a pattern can say "0x and 40 hex digits" but not "EIP-55 checksummed" (the checksum
is a keccak of the address). Rather than a rule the document cannot state, the API takes the
address in any case and normalises it to its EIP-55 form, which is how it stores, compares and
answers every address. Nothing is lost: every address a client sends is inside a record whose
signature binds its 20 bytes (evidence, orders), or is checked against a key that must sign
(a provider's signer), so a mistyped digit fails there, case or no case.
"""

from __future__ import annotations

from typing import Annotated, Any

from eth_utils import to_checksum_address
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic.fields import FieldInfo

# The largest integer every JSON reader holds exactly (an IEEE double's 53 bits: JavaScript,
# and the fuzzer's bounds, compare beyond it inexactly). A request integer that is bounded by
# a machine width (uint64 times, 64-bit amounts) states this bound instead: no real value comes
# near it, and the README promises that larger integers travel as strings.
JSON_SAFE_INT = 2**53 - 1


def _not_a_boolean(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


def json_int(ge: int, le: int = JSON_SAFE_INT) -> Any:
    """An integer as JSON Schema reads one, within [ge, le]: 3, or 3.0 (a number with no
    fraction), never true or false (lax validation reads a boolean as 1 or 0; strict validation
    refuses 3.0). The bounds sit before the validator, so the document states them."""
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_not_a_boolean)]


ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
ADDRESS_NOTE = (
    "An Ethereum address: `0x` and 40 hex digits, in any case. The API normalises it to its "
    "EIP-55 checksummed form and answers with that form (a pattern cannot express the EIP-55 "
    "checksum, so a mixed-case address is not refused for its case)."
)


def _checksummed(value: str) -> str:
    return str(to_checksum_address(value))


def address_field(description: str) -> FieldInfo:
    """An :data:`Address` field's own description, followed by what every address says."""
    info: FieldInfo = Field(description=f"{description} {ADDRESS_NOTE}")
    return info


# The pattern before the normaliser: pydantic states a constraint in the JSON schema only
# when it applies to the plain string.
Address = Annotated[
    str,
    Field(pattern=ADDRESS_PATTERN, description=ADDRESS_NOTE),
    AfterValidator(_checksummed),
]
