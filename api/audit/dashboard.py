"""Aggregates for the auditor's dashboard and summary (read-only, from the index)."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.audit.models import Balance, IssuedBatch, Retirement
from api.audit.queries import ALL, Window, index_status, is_paused, supply_at
from api.audit.schemas import Amount, IndexStatus, Supply


class Summary(BaseModel):
    index: IndexStatus
    supply: Supply
    holders: int
    batches: int
    retirements: int
    paused: bool


# The summary as of one checkpoint (block number and hash): it cannot change until the index
# moves, so the counts are computed once per checkpoint and process, not once per request.
_summaries: dict[tuple[int, int, str], Summary] = {}
_summaries_lock = threading.Lock()


def summary(session: Session) -> Summary:
    status = index_status(session)
    key = (status.chain_id, status.block_number, status.block_hash)
    with _summaries_lock:
        cached = _summaries.get(key)
    if cached is not None:
        return cached.model_copy(update={"index": status})
    result = _summary(session, status)
    with _summaries_lock:
        _summaries.clear()
        _summaries[key] = result
    return result


def _summary(session: Session, status: IndexStatus) -> Summary:
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
    key: str  # what the amount is split by: a batch id for issuance, "retired" for retirements
    amount: Amount
    count: int


class Day(BaseModel):
    day: str  # YYYY-MM-DD (UTC)
    total: Amount
    count: int
    parts: list[DayAmount]


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def issuance_per_day(session: Session, window: Window = ALL) -> list[Day]:
    """Credits issued per UTC day, split by batch (by activity type once earning lands)."""
    base: Any = select(IssuedBatch.block_time, IssuedBatch.batch_id, IssuedBatch.total_amount)
    stmt = window.apply(base, IssuedBatch).order_by(IssuedBatch.block_number, IssuedBatch.log_index)
    days: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for block_time, batch_id, amount in session.execute(stmt.execution_options(yield_per=2000)):
        part = days[_day(block_time)][batch_id]
        part[0] += amount
        part[1] += 1
    return _days(days)


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
