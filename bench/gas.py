"""Gas per credited claim and per settled trade, and the committed gas snapshot.

Issuance: gas per credited claim, batch issuance against one plain OpenZeppelin ERC-20 mint
per claim.

Two workloads, batches of 1, 10, 100 and 1,000 claims:
- common: recipients already hold credits, two claims per recipient (100 claims -> 50 people);
- new: every claim goes to an address that never held credits.
The baseline mints each claim with ``PlainERC20.mint`` (one transaction per claim) in the same
run, to existing holders (``erc20_mint_gas``) and to fresh addresses. Gas is the receipts'
``gasUsed``: the batch transaction's whole cost (21,000 base, calldata, root storage, events)
divided by its claims.

Settlement (``settlement_gas``): the market's workload (as in ``bench/market.py``): 20 sellers
and 20 buyers who already traded once, each trade a fresh 1 kg sell order taken by a fresh buy
order, settled by ``settleBatch`` in one batch of 100 and in a batch of 1.

Snapshot: ``bench/gas-snapshot.json`` holds the figures a gas regression test
(``tests/contracts/test_gas_snapshot.py``) measures again on the test devnet. The snapshot
compares *execution* gas (``gasUsed`` minus the intrinsic 21,000 and calldata gas): it is
exactly deterministic, whereas calldata gas moves by 12 gas per zero byte of a signature, and
signatures depend on the exchange's address. Update it with
``crda bench gas --update-snapshot`` after a change that is meant to move gas.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from rich.console import Console
from rich.table import Table
from web3.logs import DISCARD
from web3.types import TxReceipt

from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import VERIFIER_ROLE, ensure_deployed
from api.chain.devnet import start_devnet
from api.chain.gateway import ChainGateway
from api.chain.merkle import MerkleTree, claim_leaf
from api.market.eip712 import Domain, Order, Side
from api.market.settlement import GAS_PER_BATCH, GAS_PER_FILL
from api.settings import Environment, Settings

SIZES = (1, 10, 100, 1_000)
METHODOLOGY = keccak(text="bench-methodology-v1")
SNAPSHOT_PATH = Path(__file__).with_name("gas-snapshot.json")
KG = 1000
PRICE = 1000
# Fixed, so that calldata (and so gas) does not depend on the block time.
EXPIRY = 4_000_000_000


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


def intrinsic_gas(data: bytes) -> int:
    """A transaction's intrinsic gas on Cancun: 21,000 plus 4 per zero and 16 per other byte."""
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros)


def _figure(gateway: ChainGateway, receipt: TxReceipt, items: int) -> dict[str, int]:
    """One transaction's gas: all of it, its execution alone (deterministic), and its calldata."""
    tx = gateway.w3.eth.get_transaction(receipt["transactionHash"])
    data = bytes(tx["input"])
    used = int(receipt["gasUsed"])
    return {
        "items": items,
        "gas_used": used,
        "gas_per_item": used // items,
        "execution_gas": used - intrinsic_gas(data),
        "calldata_bytes": len(data),
    }


def snapshot_figures(
    gateway: ChainGateway,
    operator: LocalAccount,
    issuer: LocalAccount,
    relayer: LocalAccount,
    verifier: LocalAccount,
) -> dict[str, dict[str, int]]:
    """The figures of the gas snapshot, measured on the deployed contracts of ``gateway``.

    - ``issue_batch_100_claims``: ``issueBatch`` of 100 claims to 50 holders of credits;
    - ``settle_batch_100_trades``: ``settleBatch`` of 100 trades between 20 sellers and 20 buyers
      who traded before (they hold both tokens), each trade a fresh sell and a fresh buy order;
    - ``settle_batch_1_trade``: the same with one trade.
    ``verifier`` gets ``VERIFIER_ROLE`` from ``operator`` (an accreditor) when it lacks it.
    """
    registry = gateway.contract("IdentityRegistry")
    issuance = gateway.contract("Issuance")
    won = gateway.contract("SettlementToken")
    exchange = gateway.contract("Exchange")
    if not registry.functions.hasRole(VERIFIER_ROLE, verifier.address).call():
        gateway.transact(registry.functions.grantRole(VERIFIER_ROLE, verifier.address), operator)
    holders = _addresses("snapshot-holder", 50)
    sellers = [Account.from_key(keccak(text=f"snapshot-seller:{i}")) for i in range(20)]
    buyers = [Account.from_key(keccak(text=f"snapshot-buyer:{i}")) for i in range(20)]
    expires = int(gateway.w3.eth.get_block("latest")["timestamp"]) + 365 * 86_400
    for who in [s.address for s in sellers] + [b.address for b in buyers]:
        attest = registry.functions.attest(who, keccak(text=f"credential:{who}"), 2, expires)
        gateway.transact(attest, verifier)

    def issue(tag: str, claims: list[tuple[str, int]]) -> TxReceipt:
        records = [
            (keccak(text=f"{tag}:{i}"), who, amount, METHODOLOGY, keccak(text=f"{tag}:e{i}"))
            for i, (who, amount) in enumerate(claims)
        ]
        totals: dict[str, int] = {}
        for _claim, who, amount, _m, _e in records:
            totals[who] = totals.get(who, 0) + amount
        tree = MerkleTree([claim_leaf(*r) for r in records])
        return gateway.transact(
            issuance.functions.issueBatch(
                keccak(text=f"{tag}:batch"),
                tree.root,
                [r[0] for r in records],
                list(totals),
                list(totals.values()),
            ),
            issuer,
        )

    issue("snapshot-holders", [(h, 1_000) for h in holders])
    issued = issue("snapshot-claims", [(holders[i % len(holders)], 1_500 + i) for i in range(100)])
    issue("snapshot-sellers", [(s.address, 1_000 * KG) for s in sellers])
    for i, b in enumerate(buyers):
        fn = won.functions.mint(b.address, 1_000 * PRICE, keccak(text=f"snapshot-deposit:{i}"))
        gateway.transact(fn, operator)

    domain = Domain(gateway.chain_id, exchange.address)

    def settle(round_: int, n: int, first_fill: int) -> TxReceipt:
        fills = []
        for i in range(n):
            seller, buyer = sellers[i % len(sellers)], buyers[i % len(buyers)]
            nonce = round_ * 1_000_000 + 2 * i
            sell = Order(seller.address, Side.sell, PRICE, KG, EXPIRY, nonce)
            buy = Order(buyer.address, Side.buy, PRICE, KG, EXPIRY, nonce + 1)
            fills.append(
                (
                    # Numbered in sequence, as the platform's engine numbers its fills.
                    (first_fill + i).to_bytes(32, "big"),
                    buy.as_tuple(),
                    domain.sign_order(buy, buyer),
                    sell.as_tuple(),
                    domain.sign_order(sell, seller),
                    PRICE,
                    KG,
                )
            )
        receipt = gateway.transact(
            exchange.functions.settleBatch(fills), relayer, gas=GAS_PER_BATCH + GAS_PER_FILL * n
        )
        rejected = exchange.events.FillRejected().process_receipt(receipt, errors=DISCARD)
        assert not rejected, "a fill was rejected"
        return receipt

    # Every trader has now traded (buyers hold credits, sellers won), and the bitmap word of
    # fills 1-255 exists: the batch of 100 is fills 21-120 and the single one fill 121, as on a
    # platform that has settled fills before.
    settle(0, len(sellers), 1)
    batch = settle(1, 100, len(sellers) + 1)
    single = settle(2, 1, len(sellers) + 101)
    return {
        "issue_batch_100_claims": _figure(gateway, issued, 100),
        "settle_batch_100_trades": _figure(gateway, batch, 100),
        "settle_batch_1_trade": _figure(gateway, single, 1),
    }


def compare_with_snapshot(
    measured: dict[str, dict[str, int]], snapshot: dict[str, Any]
) -> list[str]:
    """What differs between ``measured`` and the committed snapshot, in words (empty: none).

    Execution gas and calldata length are compared exactly (both are deterministic).
    """
    problems = []
    for name, figure in measured.items():
        expected = snapshot["figures"].get(name)
        if expected is None:
            problems.append(f"{name}: not in the snapshot")
            continue
        for key in ("execution_gas", "calldata_bytes"):
            if figure[key] != expected[key]:
                problems.append(
                    f"{name}.{key}: {figure[key]:,} measured, {expected[key]:,} in the snapshot"
                )
    return problems


def write_snapshot(figures: dict[str, dict[str, int]], path: Path = SNAPSHOT_PATH) -> None:
    """Record ``figures`` as the committed gas snapshot."""
    document = {
        "about": (
            "Gas of issuance and settlement, measured by bench/gas.py (snapshot_figures) and "
            "checked by tests/contracts/test_gas_snapshot.py: execution_gas and calldata_bytes "
            "must match exactly. Update: crda bench gas --update-snapshot"
        ),
        "figures": figures,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def read_snapshot(path: Path = SNAPSHOT_PATH) -> dict[str, Any]:
    """The committed gas snapshot."""
    return dict(json.loads(path.read_text()))


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


def main(*, as_json: bool, kind: str = "hardhat", update_snapshot: bool = False) -> dict[str, Any]:
    """Run on a throwaway devnet of its own and print a table (or one JSON object); with
    ``update_snapshot``, write the snapshot figures to ``bench/gas-snapshot.json``."""
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
            gateway = ChainGateway.connect(settings)
            result = run(gateway, settings)
            figures = snapshot_figures(
                gateway,
                Account.from_key(settings.operator_key.get_secret_value()),
                Account.from_key(settings.issuer_key.get_secret_value()),
                Account.from_key(settings.relayer_key.get_secret_value()),
                # The operator accredits itself as the verifier (as bench/market.py does).
                Account.from_key(settings.operator_key.get_secret_value()),
            )
    finally:
        devnet.stop()
    result["snapshot"] = figures
    result["per_trade_gas_batch_100"] = figures["settle_batch_100_trades"]["gas_per_item"]
    result["per_trade_gas_batch_1"] = figures["settle_batch_1_trade"]["gas_per_item"]
    result["target_per_trade_batch_100"] = 60_000
    result["snapshot_differences"] = (
        compare_with_snapshot(figures, read_snapshot()) if SNAPSHOT_PATH.exists() else ["none"]
    )
    if update_snapshot:
        write_snapshot(figures)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        console = Console()
        console.print(_table(result))
        console.print(_settlement_table(figures))
        for line in result["snapshot_differences"]:
            console.print(f"snapshot: {line}")
    return result


def _settlement_table(figures: dict[str, dict[str, int]]) -> Table:
    table = Table(
        title="Gas snapshot (settlement per trade, issuance per claim; target <= 60,000/trade)"
    )
    for column in ("transaction", "items", "gas", "gas/item", "execution gas", "calldata bytes"):
        table.add_column(column, justify="right")
    for name, f in figures.items():
        table.add_row(
            name,
            f"{f['items']:,}",
            f"{f['gas_used']:,}",
            f"{f['gas_per_item']:,}",
            f"{f['execution_gas']:,}",
            f"{f['calldata_bytes']:,}",
        )
    return table
