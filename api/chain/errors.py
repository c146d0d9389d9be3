"""Custom errors from the contracts, decoded by selector from the ABI into domain problems.

web3.py raises custom errors undecoded (hex data); this module finds the error in the
artifacts' ABIs, decodes its arguments and maps it to a stable problem type, so a revert
reaches the mobile app as e.g. ``/problems/unverified-account`` with ``error_name`` and the
error's values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address, to_hex

from api.errors import Problem

# Solidity's built-in Error(string) and Panic(uint256).
_ERROR_STRING = "0x08c379a0"
_PANIC = "0x4e487b71"

# error name -> (HTTP status, problem slug, title)
ERROR_PROBLEMS: dict[str, tuple[int, str, str]] = {
    "CRDATokenUnverifiedAccount": (403, "unverified-account", "The account is not verified"),
    "ERC20InsufficientBalance": (409, "insufficient-balance", "Not enough credits"),
    "ERC20InsufficientAllowance": (409, "insufficient-allowance", "Allowance too small"),
    "EnforcedPause": (409, "paused", "Credits are paused by the operator"),
    "AccessControlUnauthorizedAccount": (403, "forbidden", "Forbidden"),
    "IdentityRegistryNotAttestingVerifier": (
        403,
        "not-attesting-verifier",
        "Only the verifier that made the attestation may change it",
    ),
    "IdentityRegistryNotAttested": (404, "not-attested", "The account has no live attestation"),
    "IdentityRegistryInvalidExpiry": (422, "invalid-expiry", "The expiry is not in the future"),
    "IdentityRegistryInvalidLevel": (422, "invalid-level", "The assurance level is not valid"),
    "IdentityRegistryEmptyCredential": (422, "empty-credential", "The credential hash is empty"),
    "IdentityRegistryZeroAddress": (422, "zero-address", "The address is the zero address"),
    "IssuanceBatchAlreadyIssued": (409, "batch-already-issued", "The batch was already issued"),
    "IssuanceEmptyBatch": (422, "empty-batch", "The batch has no claims"),
    "IssuanceZeroAmount": (422, "zero-amount", "An amount is zero"),
    "CRDATokenZeroRetirement": (422, "zero-amount", "An amount is zero"),
    "CRDATokenEmptyBeneficiary": (422, "missing-beneficiary", "A retirement needs a beneficiary"),
    "SettlementTokenUnverifiedAccount": (
        403,
        "unverified-account",
        "The account is not verified",
    ),
    "SettlementTokenZeroAmount": (422, "zero-amount", "An amount is zero"),
    "SettlementTokenReferenceUsed": (
        409,
        "transfer-already-applied",
        "The deposit or withdrawal was already applied",
    ),
    "ExchangeNotMaker": (403, "not-order-maker", "Only the order's maker may cancel it"),
    "ExchangeInvalidSignature": (422, "invalid-signature", "The signature is not the maker's"),
    "ExchangeEmptyBatch": (422, "empty-batch", "The batch has no fills"),
    "ExchangeFillRejected": (409, "fill-rejected", "The fill cannot settle"),
}


class ChainRevert(Problem):
    """The chain refused a call or transaction; ``error_name`` says which custom error."""

    status = 409
    slug = "chain-rejected"
    title = "The blockchain refused the operation"

    def __init__(
        self,
        error_name: str,
        args: dict[str, Any] | None = None,
        *,
        tx_hash: str | None = None,
        detail: str | None = None,
    ) -> None:
        status, slug, title = ERROR_PROBLEMS.get(error_name, (self.status, self.slug, self.title))
        self.status, self.slug, self.title = status, slug, title
        self.error_name = error_name
        self.error_args = args or {}
        extensions: dict[str, Any] = {
            "error_name": error_name,
            "error_args": {k: _jsonable(v) for k, v in self.error_args.items()},
        }
        if tx_hash:
            extensions["tx_hash"] = tx_hash
        super().__init__(detail or f"{error_name}({_describe(self.error_args)})", **extensions)


@dataclass(frozen=True)
class _ErrorAbi:
    name: str
    types: list[str]
    names: list[str]


def _canonical_type(item: dict[str, Any]) -> str:
    kind: str = item["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in item["components"])
        return f"({inner}){kind[5:]}"
    return kind


class ErrorDecoder:
    """Selector -> error, built from every ABI the platform deploys."""

    def __init__(self, abis: list[list[dict[str, Any]]]) -> None:
        self._errors: dict[str, _ErrorAbi] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_canonical_type(i) for i in item.get("inputs", [])]
                signature = f"{item['name']}({','.join(types)})"
                selector = to_hex(function_signature_to_4byte_selector(signature))
                names = [i.get("name") or f"arg{n}" for n, i in enumerate(item.get("inputs", []))]
                self._errors[selector] = _ErrorAbi(item["name"], types, names)

    def decode(self, data: str | bytes | None) -> tuple[str, dict[str, Any]]:
        """(error name, arguments) of revert data; unknown data decodes as ``UnknownError``."""
        raw = _to_bytes(data)
        if len(raw) < 4:
            return "UnknownError", {"data": to_hex(raw)}
        selector, payload = to_hex(raw[:4]), raw[4:]
        try:
            if selector == _ERROR_STRING:
                return "Error", {"message": abi_decode(["string"], payload)[0]}
            if selector == _PANIC:
                return "Panic", {"code": abi_decode(["uint256"], payload)[0]}
            error = self._errors.get(selector)
            if error is None:
                return "UnknownError", {"data": to_hex(raw)}
            values = abi_decode(error.types, payload)
        except Exception:  # noqa: BLE001  (malformed revert data is reported, not raised)
            return "UnknownError", {"data": to_hex(raw)}
        readable = [
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(error.types, values, strict=True)
        ]
        return error.name, dict(zip(error.names, readable, strict=True))

    def to_problem(self, data: str | bytes | None, tx_hash: str | None = None) -> ChainRevert:
        name, args = self.decode(data)
        return ChainRevert(name, args, tx_hash=tx_hash)


def _to_bytes(data: str | bytes | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    text = data[2:] if data.startswith("0x") else data
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, int) and not isinstance(value, bool):
        # Integers beyond JavaScript's safe range travel as strings.
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _describe(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_jsonable(v)}" for k, v in args.items())
