"""The platform's EIP-712 hashing and recovery (``api/chain/eip712.py``) equal eth-account's, on
random documents of every type set the platform signs and on random (also malformed)
signatures: the fast path must change the speed, never a digest or a recovered address."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.exceptions import ValueOutOfBounds
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.chain.eip712 import TypedDomain, Types, recover_digest
from api.earning.evidence import RECEIPT_TYPES, TRIP_TYPES
from api.retirement.service import FORWARD_REQUEST_TYPES

DOMAIN = TypedDomain("CRDA Evidence", "1", 31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
TYPE_SETS: dict[str, Types] = {
    "Receipt": RECEIPT_TYPES,
    "Trip": TRIP_TYPES,
    "ForwardRequest": FORWARD_REQUEST_TYPES,
}

addresses = st.binary(min_size=20, max_size=20).map(
    lambda raw: Account.from_key(b"\x01" * 12 + raw).address  # checksummed, as the API stores
)
texts = st.text(max_size=40)


def _value(type_name: str, types: Types) -> st.SearchStrategy[Any]:
    if type_name.endswith("[]"):
        return st.lists(_value(type_name[:-2], types), max_size=3)
    if type_name in types:
        return st.fixed_dictionaries(
            {f["name"]: _value(f["type"], types) for f in types[type_name]}
        )
    if type_name == "string":
        return texts
    if type_name == "address":
        return addresses
    if type_name == "bytes":
        return st.binary(max_size=80)
    if type_name.startswith("uint"):
        return st.integers(0, 2 ** int(type_name[4:]) - 1)
    if type_name.startswith("int"):
        bits = int(type_name[3:])
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    raise AssertionError(f"no strategy for {type_name}")


documents = st.sampled_from(sorted(TYPE_SETS)).flatmap(
    lambda primary: st.tuples(st.just(primary), _value(primary, TYPE_SETS[primary]))
)


def _reference(primary: str, message: dict[str, Any]) -> bytes:
    full = DOMAIN.document(primary, TYPE_SETS[primary], message)
    return bytes(_hash_eip191_message(encode_typed_data(full_message=full)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_digest_equals_eth_account(document: tuple[str, dict[str, Any]]) -> None:
    primary, message = document
    assert DOMAIN.digest(primary, TYPE_SETS[primary], message) == _reference(primary, message)


def test_out_of_range_integer_is_refused_like_eth_account() -> None:
    message = {
        "tripId": "t",
        "operator": DOMAIN.verifying_contract,
        "citizen": DOMAIN.verifying_contract,
        "mode": "bus",
        "startedAt": 2**64,
        "endedAt": 1,
        "fromStation": "",
        "toStation": "",
        "startLat": 0,
        "startLon": 0,
        "endLat": 0,
        "endLon": 0,
        "distanceMeters": 1,
    }
    with pytest.raises(ValueOutOfBounds):
        _reference("Trip", message)
    with pytest.raises(ValueError):
        DOMAIN.digest("Trip", TRIP_TYPES, message)


def _eth_account_recovers(digest: bytes, signature: bytes) -> str | None:
    try:
        return str(Account._recover_hash(digest, signature=signature))
    except Exception:  # noqa: BLE001 (eth-account raises several types for a bad signature)
        return None


def _ours(digest: bytes, signature: bytes) -> str | None:
    try:
        return recover_digest(digest, signature)
    except ValueError:
        return None


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_recovery_equals_eth_account(key: bytes, digest: bytes) -> None:
    if not 0 < int.from_bytes(key, "big") < 2**256 - 2**128:
        return
    account = Account.from_key(key)
    signature = bytes(account.unsafe_sign_hash(digest).signature)
    assert _ours(digest, signature) == account.address
    assert _ours(digest, "0x" + signature.hex()) == account.address  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=64, max_size=64),
    st.sampled_from([0, 1, 2, 26, 27, 28, 29, 35, 36, 37, 38, 255]),
)
def test_malformed_signatures_recover_as_eth_account_does(digest: bytes, rs: bytes, v: int) -> None:
    """Random r, s (also 0 or past the curve order) and every kind of v: the same address or
    the same refusal."""
    signature = rs + bytes([v])
    assert _ours(digest, signature) == _eth_account_recovers(digest, signature)
