"""Aggregates for the auditor's dashboard and summary (read-only, from the index)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import examples as ex
from api.audit.models import Balance, IssuedBatch, Retirement
from api.audit.queries import ALL, Window, index_status, is_paused, supply_at
from api.audit.schemas import Amount, IndexStatus, Supply
from api.earning.models import Claim
from api.earning.models import IssuanceBatch as EarningBatch
from api.market.models import FillStatus, MarketFill


class Summary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "index": ex.INDEX_STATUS,
                    "supply": ex.SUPPLY,
                    "holders": 2,
                    "batches": 1,
                    "retirements": 1,
                    "paused": False,
                }
            ]
        }
    )

    index: IndexStatus
    supply: Supply
    holders: int
    batches: int
    retirements: int
    paused: bool


def summary(session: Session, status: IndexStatus | None = None) -> Summary:
    """The headline at the checkpoint ``status`` (read now when not given); kept per
    checkpoint by the route (``api.audit.kept``)."""
    status = status or index_status(session)
    return Summary(
        index=status,
        supply=supply_at(session, status.block_number),
        holders=int(
            session.scalar(select(func.count()).select_from(Balance).where(Balance.balance > 0))
            or 0
        ),
        batches=int(session.scalar(select(func.count()).select_from(IssuedBatch)) or 0),
        retirements=int(session.scalar(select(func.count()).select_from(Retirement)) or 0),
        paused=is_paused(session),
    )


class DayAmount(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"key": "subway", "amount": "750", "count": 1}]}
    )

    key: str  # what the amount is split by: a batch id for issuance, "retired" for retirements
    amount: Amount
    count: int


class Day(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "day": "2026-11-23",
                    "total": "4550",
                    "count": 2,
                    "parts": [
                        {"key": "subway", "amount": "750", "count": 1},
                        {"key": "dairy", "amount": "3000", "count": 1},
                        {"key": "beverage", "amount": "800", "count": 1},
                    ],
                }
            ]
        }
    )

    day: str  # YYYY-MM-DD (UTC)
    total: Amount
    count: int
    parts: list[DayAmount]


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def activity_type(kind: str, mode: str | None, inputs: dict[str, Any]) -> str:
    """How the dashboard names a claim's activity: trips by mode, purchases by category."""
    if kind == "trip":
        return f"trip · {mode or 'other'}"
    categories = sorted(
        {str(c.get("category")) for c in inputs.get("components", []) if c.get("category")}
    )
    return f"purchase · {categories[0] if len(categories) == 1 else 'mixed basket'}"


def issuance_per_day(session: Session, window: Window = ALL) -> list[Day]:
    """Credits issued per UTC day (block time), split by activity type: trips by mode,
    purchases by product category, from earning's claim records; a batch minted outside
    earning (no records) counts as ``other``."""
    base: Any = (
        select(
            IssuedBatch.block_time,
            IssuedBatch.total_amount,
            IssuedBatch.claim_count,
            Claim.kind,
            Claim.mode,
            Claim.inputs,
            Claim.amount,
        )
        .outerjoin(EarningBatch, EarningBatch.batch_id == IssuedBatch.batch_id)
        .outerjoin(Claim, Claim.batch_id == EarningBatch.id)
    )
    stmt = window.apply(base, IssuedBatch).order_by(IssuedBatch.block_number, IssuedBatch.log_index)
    days: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    rows = session.execute(stmt.execution_options(yield_per=2000))
    for block_time, batch_total, batch_count, kind, mode, inputs, amount in rows:
        if kind is None:
            part = days[_day(block_time)]["other"]
            part[0] += batch_total
            part[1] += batch_count
            continue
        part = days[_day(block_time)][activity_type(kind, mode, inputs or {})]
        part[0] += int(amount)
        part[1] += 1
    return _days(days)


class MarketDay(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "day": "2026-11-23",
                    "trades": 1,
                    "quantity": "2000",
                    "won": "2400",
                    "vwap": 1200,
                    "low": 1200,
                    "high": 1200,
                }
            ]
        }
    )

    day: str  # YYYY-MM-DD (UTC) of settlement
    trades: int
    quantity: Amount  # grams of credits
    won: Amount
    vwap: int  # won per kilogram, volume-weighted, rounded down
    low: int
    high: int


class MarketReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "available": True,
                    "trades": 1,
                    "quantity": "2000",
                    "won": "2400",
                    "last_price": 1200,
                    "days": [
                        {
                            "day": "2026-11-23",
                            "trades": 1,
                            "quantity": "2000",
                            "won": "2400",
                            "vwap": 1200,
                            "low": 1200,
                            "high": 1200,
                        }
                    ],
                }
            ]
        }
    )

    available: bool = True
    trades: int
    quantity: Amount
    won: Amount
    last_price: int | None
    days: list[MarketDay]


def market_per_day(session: Session) -> MarketReport:
    """Settled trades per UTC day: volume, won, volume-weighted price and range."""
    stmt = (
        select(MarketFill.settled_at, MarketFill.price, MarketFill.quantity, MarketFill.won)
        .where(MarketFill.status == FillStatus.settled)
        .order_by(MarketFill.id)
    )
    days: dict[str, list[int]] = {}
    last: int | None = None
    for settled_at, price, quantity, won in session.execute(stmt.execution_options(yield_per=2000)):
        day = (settled_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")
        d = days.setdefault(day, [0, 0, 0, price, price])  # trades, grams, won, low, high
        d[0] += 1
        d[1] += quantity
        d[2] += won
        d[3] = min(d[3], price)
        d[4] = max(d[4], price)
        last = price
    out = [
        MarketDay(
            day=day, trades=t, quantity=q, won=w, vwap=w * 1000 // q if q else 0, low=lo, high=hi
        )
        for day, (t, q, w, lo, hi) in sorted(days.items())
    ]
    return MarketReport(
        trades=sum(d.trades for d in out),
        quantity=sum(d.quantity for d in out),
        won=sum(d.won for d in out),
        last_price=last,
        days=out,
    )


def retirements_per_day(session: Session, window: Window = ALL) -> list[Day]:
    base: Any = select(Retirement.block_time, Retirement.amount)
    stmt = window.apply(base, Retirement).order_by(Retirement.block_number, Retirement.log_index)
    days: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for block_time, amount in session.execute(stmt.execution_options(yield_per=2000)):
        part = days[_day(block_time)]["retired"]
        part[0] += amount
        part[1] += 1
    return _days(days)


def _days(days: dict[str, dict[str, list[int]]]) -> list[Day]:
    out = []
    for day in sorted(days):
        parts = [DayAmount(key=k, amount=v[0], count=v[1]) for k, v in days[day].items()]
        out.append(
            Day(
                day=day,
                total=sum(p.amount for p in parts),
                count=sum(p.count for p in parts),
                parts=parts,
            )
        )
    return out


class NotYetAvailable(BaseModel):
    """A section whose data another part of the platform will provide."""

    available: bool = False
    detail: str
