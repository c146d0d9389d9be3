"""The market reads identities once per head block (``IdentityReader(per_block=True)``), and a
revocation still counts from its block on: the cache is keyed by the head's hash."""

from __future__ import annotations

from typing import Any

import pytest

from api.errors import Problem
from api.market.eip712 import Side
from tests.market.conftest import KG, Harness


@pytest.fixture
def traders(harness: Harness) -> Harness:
    a = harness.accounts
    harness.attest(a.alice.address, a.bob.address)
    harness.give_credits({a.alice.address: 5 * KG})
    return harness


def _count_registry_reads(traders: Harness, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    reads: list[Any] = []
    views = traders.chain.views

    def counted(fns: Any, block: Any = "latest") -> list[Any]:
        reads.append(block)
        return views(fns, block)

    monkeypatch.setattr(traders.chain, "views", counted)
    return reads


def _refusal(traders: Harness, kg: int) -> str:
    with pytest.raises(Problem) as info:
        traders.place(traders.accounts.alice, Side.sell, 1000, kg)
    return info.value.slug


def test_orders_at_one_head_read_the_registry_once_and_a_revocation_counts_from_its_block(
    traders: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = traders.accounts
    reads = _count_registry_reads(traders, monkeypatch)
    traders.place(a.alice, Side.sell, 1000, 1)
    traders.place(a.alice, Side.sell, 1001, 1)  # the same head: answered from the cache
    assert len(reads) == 1
    traders.platform.send(traders.platform.registry.functions.revoke(a.alice.address), a.verifier)
    assert _refusal(traders, 1) == "unverified-account"
    assert len(reads) == 2


def test_a_reorganised_head_at_the_same_height_is_read_again(traders: Harness) -> None:
    a = traders.accounts
    w3 = traders.chain.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    traders.platform.send(traders.platform.registry.functions.revoke(a.alice.address), a.verifier)
    revoked_at = w3.eth.get_block("latest")
    assert _refusal(traders, 1) == "unverified-account"  # cached for the revoking block
    # The revoking block is reorganised away: a different block at the same height.
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    head = w3.eth.get_block("latest")
    assert head["number"] == revoked_at["number"] and head["hash"] != revoked_at["hash"]
    traders.place(a.alice, Side.sell, 1000, 1)  # verified again on this chain
