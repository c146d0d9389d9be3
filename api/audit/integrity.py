"""Integrity check: re-derive supply from the indexed events and compare with the chain.

At the index's checkpoint block ``B``, the events say how much was minted, burnt and retired;
the token says ``totalSupply()`` and ``totalRetired()`` (read at ``B`` with ``eth_call``, so a
chain that moved on since does not matter). The derived tables (supply series, balances) must
agree with the events too, account by account. Every difference is reported, never repaired:
the report says what to look at. The events are read in a streaming way; only the per-account
sums (one integer pair per holder) are held in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import examples as ex
from api.audit.models import Balance, IssuedBatch, Retirement, Transfer
from api.audit.queries import index_status, supply_at
from api.audit.schemas import Amount
from api.chain.addresses import ZERO_ADDRESS
from api.chain.gateway import ChainGateway

_STREAM = 5000


class IntegrityCheck(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "total-supply",
                    "description": "minted - burnt in the events vs totalSupply()",
                    "indexed": "3300",
                    "expected": "3300",
                    "source": "chain",
                    "ok": True,
                }
            ]
        }
    )

    name: str
    description: str
    indexed: Amount
    expected: Amount
    source: str  # "chain" or "events"
    ok: bool


class AccountDifference(BaseModel):
    address: str
    stored_balance: Amount | None
    derived_balance: Amount
    stored_retired: Amount | None
    derived_retired: Amount
    chain_balance: Amount | None = None


class IntegrityReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ok": True,
                    "chain_id": ex.CHAIN_ID,
                    "block_number": ex.RETIREMENT_BLOCK,
                    "checks": [
                        {
                            "name": "total-supply",
                            "description": "minted - burnt in the events vs totalSupply()",
                            "indexed": "3300",
                            "expected": "3300",
                            "source": "chain",
                            "ok": True,
                        }
                    ],
                    "accounts_checked": 2,
                    "account_differences": [],
                    "more_differences": 0,
                }
            ]
        }
    )

    ok: bool
    chain_id: int
    block_number: int
    checks: list[IntegrityCheck]
    accounts_checked: int
    account_differences: list[AccountDifference]
    more_differences: int = 0


def _stream(session: Session, stmt: Any) -> Iterable[Any]:
    return session.execute(stmt.execution_options(yield_per=_STREAM))


def check_integrity(
    session: Session,
    gateway: ChainGateway,
    *,
    on_chain_balances: bool = False,
    max_differences: int = 100,
) -> IntegrityReport:
    """Compare the index at its checkpoint with the events it holds and with the chain."""
    status = index_status(session)
    block = status.block_number
    token = gateway.contract("CRDAToken")

    minted = burnt = retired = 0
    balances: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sender, recipient, amount in _stream(
        session,
        select(Transfer.sender, Transfer.recipient, Transfer.amount).where(
            Transfer.block_number <= block
        ),
    ):
        if sender == ZERO_ADDRESS:
            minted += amount
        else:
            balances[sender][0] -= amount
        if recipient == ZERO_ADDRESS:
            burnt += amount
        else:
            balances[recipient][0] += amount
    certificates = 0
    for holder, amount in _stream(
        session,
        select(Retirement.holder, Retirement.amount).where(Retirement.block_number <= block),
    ):
        retired += amount
        certificates += 1
        balances[holder][1] += amount
    batch_total = sum(
        amount
        for (amount,) in _stream(
            session, select(IssuedBatch.total_amount).where(IssuedBatch.block_number <= block)
        )
    )

    chain_supply, chain_retired, chain_certificates = (
        int(value)
        for value in gateway.views(
            [
                token.functions.totalSupply(),
                token.functions.totalRetired(),
                token.functions.lastCertificateId(),
            ],
            block,
        )
    )
    table = supply_at(session, block)

    stored_sum = 0
    differences: list[AccountDifference] = []
    more = 0
    seen: set[str] = set()
    holders: list[str] = []
    for address, balance, retired_by in _stream(
        session, select(Balance.address, Balance.balance, Balance.retired).order_by(Balance.address)
    ):
        seen.add(address)
        stored_sum += balance
        if balance:
            holders.append(address)
        derived_balance, derived_retired = balances.get(address, (0, 0))
        if (balance, retired_by) != (derived_balance, derived_retired):
            if len(differences) < max_differences:
                differences.append(
                    AccountDifference(
                        address=address,
                        stored_balance=balance,
                        derived_balance=derived_balance,
                        stored_retired=retired_by,
                        derived_retired=derived_retired,
                    )
                )
            else:
                more += 1
    for address in sorted(set(balances) - seen):
        derived_balance, derived_retired = balances[address]
        if len(differences) < max_differences:
            differences.append(
                AccountDifference(
                    address=address,
                    stored_balance=None,
                    derived_balance=derived_balance,
                    stored_retired=None,
                    derived_retired=derived_retired,
                )
            )
        else:
            more += 1
    if on_chain_balances:
        on_chain = _balances_on_chain(gateway, sorted(set(holders) | set(balances)), block)
        known = {d.address: d for d in differences}
        for address, value in on_chain.items():
            derived_balance, derived_retired = balances.get(address, (0, 0))
            if value != derived_balance or address in known:
                diff = known.get(address) or AccountDifference(
                    address=address,
                    stored_balance=None,
                    derived_balance=derived_balance,
                    stored_retired=None,
                    derived_retired=derived_retired,
                )
                diff.chain_balance = value
                if address not in known and len(differences) < max_differences:
                    differences.append(diff)

    def check(
        name: str, description: str, indexed: int, expected: int, source: str
    ) -> IntegrityCheck:
        return IntegrityCheck(
            name=name,
            description=description,
            indexed=indexed,
            expected=expected,
            source=source,
            ok=indexed == expected,
        )

    checks = [
        check(
            "total-supply",
            "minted - burnt in the events vs totalSupply()",
            minted - burnt,
            chain_supply,
            "chain",
        ),
        check(
            "total-retired",
            "retirements in the events vs totalRetired()",
            retired,
            chain_retired,
            "chain",
        ),
        check(
            "certificates",
            "retirement events vs lastCertificateId()",
            certificates,
            chain_certificates,
            "chain",
        ),
        check(
            "balances-sum",
            "sum of stored balances vs totalSupply()",
            stored_sum,
            chain_supply,
            "chain",
        ),
        check(
            "supply-series-issued",
            "supply table vs mints in the events",
            table.issued,
            minted,
            "events",
        ),
        check(
            "supply-series-burnt",
            "supply table vs burns in the events",
            table.burnt,
            burnt,
            "events",
        ),
        check(
            "supply-series-retired",
            "supply table vs retirements in the events",
            table.retired,
            retired,
            "events",
        ),
        check(
            "batches-total", "batch totals vs mints in the events", batch_total, minted, "events"
        ),
    ]
    return IntegrityReport(
        ok=all(c.ok for c in checks) and not differences and not more,
        chain_id=status.chain_id,
        block_number=block,
        checks=checks,
        accounts_checked=len(seen | set(balances)),
        account_differences=differences,
        more_differences=more,
    )


def _balances_on_chain(gateway: ChainGateway, addresses: list[str], block: int) -> dict[str, int]:
    """``balanceOf`` of each address at ``block``, 200 ``eth_call`` per JSON-RPC batch."""
    token = gateway.contract("CRDAToken")
    out: dict[str, int] = {}
    for i in range(0, len(addresses), 200):
        chunk = addresses[i : i + 200]
        values = gateway.views(
            [token.functions.balanceOf(to_checksum_address(a)) for a in chunk], block
        )
        for address, value in zip(chunk, values, strict=True):
            out[address] = int(value)
    return out
