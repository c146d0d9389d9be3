"""Gas snapshot: issuance and settlement cost exactly what ``bench/gas-snapshot.json`` records.

Gas is deterministic, so the comparison is exact: a change that costs gas fails here, and one
meant to move gas updates the snapshot in the same commit
(``crda bench gas --update-snapshot``, or ``python -m api.cli bench gas --update-snapshot``).
Execution gas (a transaction's gas less its intrinsic 21,000 and calldata gas) and calldata
length are compared, not the total: calldata gas moves by 12 gas per zero byte of a signature,
and the signatures depend on the exchange's address, which differs between this devnet and the
bench's.
"""

from __future__ import annotations

from bench.gas import compare_with_snapshot, read_snapshot, snapshot_figures
from tests.contracts.conftest import Platform


def test_gas_matches_the_committed_snapshot(platform: Platform, accounts) -> None:
    measured = snapshot_figures(
        platform.chain, accounts.operator, accounts.issuer, accounts.relayer, accounts.verifier
    )
    assert compare_with_snapshot(measured, read_snapshot()) == []


def test_the_snapshot_meets_the_targets() -> None:
    """Issue 18: at most 8,000 gas per claim in a batch of 100 to holders of credits. (The
    settlement target, 60,000 gas per trade in a batch of 100, is not met: see the snapshot.)"""
    figures = read_snapshot()["figures"]
    assert figures["issue_batch_100_claims"]["gas_per_item"] <= 8_000
    assert figures["settle_batch_100_trades"]["gas_per_item"] < 100_000
