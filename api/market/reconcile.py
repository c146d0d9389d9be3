"""Reconciliation: every ledger account holder's balance against the chain, per asset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import metrics
from api.chain.gateway import ChainGateway
from api.market import ledger
from api.market.ledger import PLATFORM
from api.market.models import AccountKind, Asset, LedgerAccount

TOKENS = {Asset.credits: "CRDAToken", Asset.won: "SettlementToken"}


@dataclass(frozen=True)
class Difference:
    owner: str
    asset: str
    ledger: int
    chain: int

    @property
    def delta(self) -> int:
        return self.ledger - self.chain


@dataclass
class Reconciliation:
    accounts_checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    # Per asset: sum of every ledger account (double entry: always zero).
    ledger_totals: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences and not any(self.ledger_totals.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "accounts_checked": self.accounts_checked,
            "ledger_totals": self.ledger_totals,
            "differences": [{**asdict(d), "delta": d.delta} for d in self.differences],
        }


def reconcile(session: Session, chain: ChainGateway) -> Reconciliation:
    """Compare what the ledger says each holder has with the tokens' ``balanceOf``; also the
    won the ledger says was deposited and not withdrawn with the settlement token's supply."""
    report = Reconciliation()
    for asset in Asset:
        total = sum(
            session.scalars(select(LedgerAccount.balance).where(LedgerAccount.asset == asset))
        )
        report.ledger_totals[str(asset)] = int(total)
    owners = sorted(
        set(
            session.scalars(
                select(LedgerAccount.owner).where(LedgerAccount.kind != AccountKind.external)
            )
        )
    )
    tokens = {asset: chain.contract(name) for asset, name in TOKENS.items()}
    for owner in owners:
        for asset, token in tokens.items():
            on_ledger = ledger.holdings(session, owner, asset)
            on_chain = int(chain.call(token.functions.balanceOf(owner)))
            report.accounts_checked += 1
            if on_ledger != on_chain:
                report.differences.append(Difference(owner, str(asset), on_ledger, on_chain))
    issued = -ledger.balance(session, PLATFORM, Asset.won, AccountKind.external)
    supply = int(chain.call(tokens[Asset.won].functions.totalSupply()))
    if issued != supply:
        report.differences.append(Difference("(total supply)", str(Asset.won), issued, supply))
    # A ledger that does not sum to zero is a difference too (Reconciliation.ok).
    unbalanced = sum(1 for total in report.ledger_totals.values() if total)
    metrics.record_reconciliation(len(report.differences) + unbalanced, report.accounts_checked)
    return report
