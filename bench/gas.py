"""Gas per credited claim: batch issuance against one plain OpenZeppelin ERC-20 mint per claim.

Two workloads, batches of 1, 10, 100 and 1,000 claims:
- common: recipients already hold credits, two claims per recipient (100 claims -> 50 people);
- new: every claim goes to an address that never held credits.
The baseline mints each claim with ``PlainERC20.mint`` (one transaction per claim) in the same
run, to existing holders (``erc20_mint_gas``) and to fresh addresses. Gas is the receipts'
``gasUsed``: the batch transaction's whole cost (21,000 base, calldata, root storage, events)
divided by its claims.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak
from rich.console import Console
from rich.table import Table

from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.devnet import start_devnet
from api.chain.gateway import ChainGateway
from api.chain.merkle import MerkleTree, claim_leaf
from api.settings import Environment, Settings

SIZES = (1, 10, 100, 1_000)
METHODOLOGY = keccak(text="bench-methodology-v1")


def _addresses(prefix: str, n: int) -> list[str]:
    return [Account.from_key(keccak(text=f"{prefix}:{i}")).address for i in range(n)]


class GasBench:
    def __init__(self, gateway: ChainGateway, settings: Settings) -> None:
        self.gateway = gateway
        self.issuance = gateway.contract("Issuance")
        self.issuer = Account.from_key(settings.issuer_key.get_secret_value())
        self.operator = Account.from_key(settings.operator_key.get_secret_value())
        self.batches = 0
        address, _ = gateway.deploy("PlainERC20", self.operator)
        self.plain = gateway.contract("PlainERC20", address)

    def issue(self, claims: list[tuple[str, int]]) -> int:
        """Issue one batch of (recipient, amount) claims; returns the transaction's gas."""
        self.batches += 1
        records = [
            (
                keccak(text=f"claim {self.batches}:{i}"),
                who,
                amount,
                METHODOLOGY,
                keccak(text=f"e{i}"),
            )
            for i, (who, amount) in enumerate(claims)
        ]
        totals: dict[str, int] = {}
        for _claim, who, amount, _m, _e in records:
            totals[who] = totals.get(who, 0) + amount
        tree = MerkleTree([claim_leaf(*r) for r in records])
        receipt = self.gateway.transact(
            self.issuance.functions.issueBatch(
                keccak(text=f"batch {self.batches}"),
                tree.root,
                [r[0] for r in records],
                list(totals),
                list(totals.values()),
            ),
            self.issuer,
        )
        return int(receipt["gasUsed"])

    def plain_mint(self, recipient: str, amount: int) -> int:
        receipt = self.gateway.transact(self.plain.functions.mint(recipient, amount), self.operator)
        return int(receipt["gasUsed"])


def run(gateway: ChainGateway, settings: Settings) -> dict[str, Any]:
    bench = GasBench(gateway, settings)
    rows: list[dict[str, Any]] = []
    for size in SIZES:
        holders = _addresses(f"holder{size}", max(1, size // 2))
        bench.issue([(h, 1_000) for h in holders])  # they now hold credits
        common = [(holders[i % len(holders)], 1_500 + i) for i in range(size)]
        common_gas = bench.issue(common)
        fresh = [(a, 1_500) for a in _addresses(f"fresh{size}", size)]
        new_gas = bench.issue(fresh)
        rows.append(
            {
                "claims": size,
                "common_recipients": len(holders),
                "common_batch_gas": common_gas,
                "common_per_claim": common_gas // size,
                "new_batch_gas": new_gas,
                "new_per_claim": new_gas // size,
            }
        )
    existing = _addresses("plain", 1)[0]
    bench.plain_mint(existing, 1)
    erc20_existing = bench.plain_mint(existing, 1_500)
    erc20_fresh = bench.plain_mint(_addresses("plain-fresh", 1)[0], 1_500)
    common_100 = next(r for r in rows if r["claims"] == 100)["common_per_claim"]
    return {
        "rows": rows,
        "per_claim_gas_common_100": common_100,
        "erc20_mint_gas": erc20_existing,
        "erc20_mint_gas_fresh_recipient": erc20_fresh,
        "ratio_common_100_vs_erc20_mint": round(common_100 / erc20_existing, 3),
        "target_per_claim_common_100": 8_000,
        "chain_id": gateway.chain_id,
    }


def _table(result: dict[str, Any]) -> Table:
    table = Table(
        title="Gas per credited claim (batch issuance, Merkle root, no per-claim storage)"
    )
    for column in (
        "claims",
        "common: recipients",
        "common: gas/claim",
        "new: gas/claim",
        "vs ERC-20 mint (existing)",
        "vs ERC-20 mint (fresh)",
    ):
        table.add_column(column, justify="right")
    for row in result["rows"]:
        table.add_row(
            f"{row['claims']:,}",
            f"{row['common_recipients']:,}",
            f"{row['common_per_claim']:,}",
            f"{row['new_per_claim']:,}",
            f"{row['common_per_claim'] / result['erc20_mint_gas']:.2f}x",
            f"{row['new_per_claim'] / result['erc20_mint_gas_fresh_recipient']:.2f}x",
        )
    table.caption = (
        f"plain ERC-20 mint: {result['erc20_mint_gas']:,} gas to an existing holder, "
        f"{result['erc20_mint_gas_fresh_recipient']:,} to a fresh one; common case at 100 claims: "
        f"{result['per_claim_gas_common_100']:,} gas/claim (target <= 8,000)"
    )
    return table


def main(*, as_json: bool, kind: str = "hardhat") -> dict[str, Any]:
    """Run on a throwaway devnet of its own and print a table (or one JSON object)."""
    devnet = start_devnet(kind)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                environment=Environment.test,
                # Benchmarks send many requests from one address.
                rate_limits_enabled=False,
                rpc_url=devnet.rpc_url,
                deployments_dir=Path(tmp),
                receipt_poll_interval=0.01,
                run_workers=False,
            )
            compiled = compiler.compile_contracts(settings.contracts_dir, settings.artifacts_path)
            ensure_deployed(
                settings,
                Artifacts.from_compiled(compiled),
                digest=compiled["digest"],
                compiler=compiled["compiler"],
            )
            result = run(ChainGateway.connect(settings), settings)
    finally:
        devnet.stop()
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        Console().print(_table(result))
    return result
