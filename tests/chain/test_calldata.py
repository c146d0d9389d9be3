"""The gateway's call data equals web3's own encoding, and refuses what web3 refuses.

``api.chain.gateway.calldata`` encodes each write once, by eth-abi, instead of web3's encoding
twice (simulation and transaction); a difference would send a different call than was checked.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.exceptions import MismatchedABI, Web3TypeError

from api.chain.artifacts import Artifacts
from api.chain.gateway import calldata

ADDRESS = "0x" + "11" * 20
w3 = Web3()

addresses = st.binary(min_size=20, max_size=20).map(Web3.to_checksum_address)
# The outbox stores bytes as 0x-hex text: both forms must encode alike.
bytes32 = st.binary(min_size=32, max_size=32).flatmap(
    lambda b: st.sampled_from([b, "0x" + b.hex()])
)
signatures = st.binary(min_size=0, max_size=130).flatmap(
    lambda b: st.sampled_from([b, "0x" + b.hex()])
)
uint = st.integers(min_value=0, max_value=2**256 - 1)
orders = st.tuples(
    addresses,
    st.integers(0, 255),
    uint,
    uint,
    st.integers(0, 2**64 - 1),
    uint,
)
fills = st.lists(
    st.tuples(bytes32, orders, signatures, orders, signatures, uint, uint).map(list),
    min_size=1,
    max_size=8,
)


@pytest.fixture(scope="module")
def artifacts(compiled: dict) -> Artifacts:
    return Artifacts.from_compiled(compiled)


def _contract(artifacts: Artifacts, name: str) -> Any:
    return w3.eth.contract(address=ADDRESS, abi=artifacts.abi(name))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=fills)
def test_settle_batch_encodes_as_web3_does(artifacts: Artifacts, batch: list[Any]) -> None:
    fn = _contract(artifacts, "Exchange").functions.settleBatch(batch)
    assert calldata(fn) == fn._encode_transaction_data()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=bytes32,
    root=bytes32,
    claims=st.lists(bytes32, max_size=5),
    holders=st.lists(addresses, max_size=5),
    amounts=st.lists(uint, max_size=5),
)
def test_issue_batch_encodes_as_web3_does(
    artifacts: Artifacts,
    batch: Any,
    root: Any,
    claims: list[Any],
    holders: list[str],
    amounts: list[int],
) -> None:
    fn = _contract(artifacts, "Issuance").functions.issueBatch(
        batch, root, claims, holders, amounts
    )
    assert calldata(fn) == fn._encode_transaction_data()


def test_view_without_arguments(artifacts: Artifacts) -> None:
    fn = _contract(artifacts, "Exchange").functions.LOT()
    assert calldata(fn) == fn._encode_transaction_data() == str(fn.selector)


def test_arguments_that_do_not_fit_are_refused(artifacts: Artifacts) -> None:
    """web3 refuses them when the call is built; the encoder refuses them on its own too (a
    call whose arguments changed after it was built never leaves with the wrong bytes)."""
    exchange = _contract(artifacts, "Exchange")
    order = [ADDRESS, 0, 1, 1, 1, 1]
    fn = exchange.functions.settleBatch([["0x" + "00" * 32, order, b"", order, b"", 1, 1]])
    for bad in (
        [["0x" + "00" * 33, order, b"", order, b"", 1, 1]],  # a 33-byte fill id
        [["0x" + "00" * 32, order, b"", order, b"", 2**256, 1]],  # a price beyond uint256
        [["0x" + "00" * 32, order, b"", order, b"", 1]],  # a field missing
    ):
        with pytest.raises(MismatchedABI):
            exchange.functions.settleBatch(bad)
        fn.arguments = (bad,)
        with pytest.raises(Web3TypeError):
            calldata(fn)
