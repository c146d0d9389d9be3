"""Open data: what the city may publish, aggregated and suppressed so no citizen stands out.

Privacy by construction, in four rules (see ``mobile_api_docs/open-data.md``):

1. **Fixed cells.** Time buckets are fixed and never overlap within a period: the calendar day,
   the ISO week and the month, in Korea's local time (``earning_utc_offset_hours``, UTC+9 for
   Asia/Seoul). The dimensions are fixed sets (the 13 districts and "unassigned", the modes,
   the product categories of the methodology): there is no filter a caller can narrow.
   A bucket is published only once it has ended, and activities are counted on the day the
   platform *accepted* them, so a published cell never changes afterwards (a late claim lands
   in today's bucket, not in a published one): two downloads a day apart differ by whole new
   buckets only.
2. **Small cells.** A cell with fewer than ``k`` distinct citizens (``open_data_min_citizens``,
   10 by default) is suppressed: all its figures are null and ``suppressed`` is true. An empty
   cell is suppressed too, so "suppressed" never tells "nobody" from "a few".
3. **No subtraction across a bucket** (complementary suppression). The cells of a bucket add up
   to a figure that is published or derivable (the bucket's total; another breakdown of the
   same bucket). There are two partitions of the activities: by district, and by what was done
   (trip modes and product categories together, whose grams add up to the total). When the
   suppressed cells of a bucket hold between 1 and k-1 citizens together, the published cell
   with the fewest citizens is suppressed as well, until the suppressed ones hold at least k
   (or none is left): what a subtraction recovers is then a group of k or more.
4. **No subtraction across periods.** A week's or month's cell adds up its days' cells. It is
   suppressed when its suppressed days would be given away by "the week minus its published
   days": a single suppressed day (whatever its size: it may be the complement that hides a
   small cell of its day), or several holding fewer than k citizens together. The days stay
   as they were (they were published first and cannot be taken back).

We chose suppression over rounding or noise: every published figure is exact (grams are
integers, the way the rest of the platform counts them), and the rules are checkable.
What cell suppression cannot promise in general (the same as statistical offices' tools without
a linear-programming audit): a chain of several overlapping equations (weeks against months,
one breakdown against another) might narrow a suppressed group further; rule 3 keeps every
single residual at k or more citizens.

Figures are computed from the operational tables on each request (no copy to keep in step);
citizens are counted by chain address and never leave this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.earning.districts import DISTRICTS
from api.earning.methodology import factor_sets
from api.earning.models import Claim, ClaimStatus
from api.market.models import FillStatus, MarketFill
from api.retirement.models import Certificate, CertificateStatus
from api.settings import Settings
from api.timeutil import aware

Period = Literal["day", "week", "month"]
Breakdown = Literal["district", "mode", "category"]
CreditFlow = Literal["issued", "traded", "retired"]

PERIODS: tuple[Period, ...] = ("day", "week", "month")
BREAKDOWNS: tuple[Breakdown, ...] = ("district", "mode", "category")
CREDIT_FLOWS: tuple[CreditFlow, ...] = ("issued", "traded", "retired")
UNASSIGNED = "unassigned"  # an activity whose place no partner or station recorded
TOTAL = "total"


def dimension(by: Breakdown) -> tuple[str, ...]:
    """The fixed keys of a breakdown (every bucket lists each of them, suppressed or not)."""
    if by == "district":
        return (*DISTRICTS, UNASSIGNED)
    sets = factor_sets().values()
    if by == "mode":
        return tuple(sorted({mode for fs in sets for mode in fs.modes}))
    return tuple(sorted({category_group(c) for fs in sets for c in fs.categories}))


def category_group(category: str) -> str:
    """A product category as published: its first segment (``dairy.milk.1l`` -> ``dairy``).
    Coarser groups keep more cells above k."""
    return category.split(".", 1)[0]


# -- buckets -----------------------------------------------------------------------------------


def bucket_of(day: date, period: Period) -> str:
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def bucket_start(label: str, period: Period) -> date:
    if period == "day":
        return date.fromisoformat(label)
    if period == "week":
        return date.fromisocalendar(int(label[:4]), int(label[6:]), 1)
    return date(int(label[:4]), int(label[5:7]), 1)


def bucket_end(label: str, period: Period) -> date:
    """The first day after the bucket."""
    start = bucket_start(label, period)
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


@dataclass(frozen=True)
class Clock:
    """Local calendar days (Korea) from UTC instants, and the first day not yet published."""

    offset: timedelta
    today: date  # the local day now: buckets ending on or before it are published

    @classmethod
    def at(cls, settings: Settings, now: datetime) -> Clock:
        offset = timedelta(hours=settings.earning_utc_offset_hours)
        return cls(offset, (aware(now) + offset).date())

    def day(self, moment: datetime | None) -> date:
        assert moment is not None  # the queries read only rows that have the instant
        return (aware(moment) + self.offset).date()

    @property
    def cutoff(self) -> datetime:
        """The UTC instant today began locally: nothing at or after it is read."""
        return datetime.combine(self.today, time(), UTC) - self.offset


# -- cells and the suppression rules -----------------------------------------------------------


@dataclass
class Cell:
    citizens: set[str] = field(default_factory=set)
    sums: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    suppressed: bool = False

    def add(self, citizen: str, amounts: dict[str, int]) -> None:
        self.citizens.add(citizen)
        for name, value in amounts.items():
            self.sums[name] += value

    def merge(self, other: Cell) -> None:
        self.citizens |= other.citizens
        for name, value in other.sums.items():
            self.sums[name] += value


# bucket label -> key -> cell
Table = dict[str, dict[str, Cell]]


@dataclass(frozen=True)
class Event:
    """One citizen's contribution to one cell of a day."""

    day: date
    key: str
    citizen: str
    amounts: dict[str, int]


def _day_table(events: Iterable[Event], keys: tuple[str, ...]) -> Table:
    table: Table = {}
    for event in events:
        cells = table.get(event.day.isoformat())
        if cells is None:
            cells = table[event.day.isoformat()] = {key: Cell() for key in keys}
        cells[event.key].add(event.citizen, event.amounts)
    return table


def _rollup(
    days: Table, period: Period, keys: tuple[str, ...]
) -> tuple[Table, dict[str, list[str]]]:
    """The period's cells from the day cells, and each bucket's days."""
    table: Table = {}
    members: dict[str, list[str]] = defaultdict(list)
    for label in sorted(days):
        bucket = bucket_of(date.fromisoformat(label), period)
        cells = table.get(bucket)
        if cells is None:
            cells = table[bucket] = {key: Cell() for key in keys}
        members[bucket].append(label)
        for key, cell in days[label].items():
            cells[key].merge(cell)
    return table, members


def _small(table: Table, k: int) -> None:
    """Rule 2: fewer than k distinct citizens (none included)."""
    for cells in table.values():
        for cell in cells.values():
            if len(cell.citizens) < k:
                cell.suppressed = True


def _hidden(cells: Iterable[Cell]) -> int:
    return len(set().union(*(c.citizens for c in cells if c.suppressed)))


def _complement(table: Table, k: int) -> None:
    """Rule 3: the suppressed cells of a bucket hold 0 or at least k citizens together."""
    for cells in table.values():
        while 0 < _hidden(cells.values()) < k:
            shown = [(len(c.citizens), key) for key, c in cells.items() if not c.suppressed]
            if not shown:
                break
            cells[min(shown)[1]].suppressed = True


def _periods(days: Table, coarse: Table, members: dict[str, list[str]], k: int) -> None:
    """Rule 4: a week's or month's cell goes when the cell minus its published days would give
    away its suppressed days: one of them alone (whatever its size: it may be the complement
    of a small cell of that day), or several that hold fewer than k citizens together."""
    for bucket, cells in coarse.items():
        for key, cell in cells.items():
            under = [days[d][key] for d in members[bucket]]
            hidden = [c for c in under if c.suppressed and c.citizens]
            if not cell.suppressed and hidden and (len(hidden) == 1 or _hidden(hidden) < k):
                cell.suppressed = True


def protected(
    events: list[Event],
    keys: tuple[str, ...],
    period: Period,
    k: int,
    *,
    complementary: bool,
) -> Table:
    """The cells of ``period`` with every rule applied (``complementary`` when the keys of a
    bucket add up to a known figure: a breakdown, not a list of unrelated flows)."""
    days = _day_table(events, keys)
    _small(days, k)
    if complementary:
        _complement(days, k)
    if period == "day":
        return days
    table, members = _rollup(days, period, keys)
    _small(table, k)
    _periods(days, table, members, k)
    if complementary:
        _complement(table, k)
    return table


def published(table: Table, period: Period, clock: Clock) -> Iterator[tuple[str, dict[str, Cell]]]:
    """The buckets that have ended, oldest first."""
    for label in sorted(table):
        if bucket_end(label, period) <= clock.today:
            yield label, table[label]


# -- what is counted ----------------------------------------------------------------------------


# A claim closed uncorroborated never earned (api/earning/corroboration.py): not an activity.
_NEVER_CREDITED = (ClaimStatus.uncorroborated,)


def _claims(session: Session, clock: Clock) -> list[Claim]:
    query = (
        select(Claim)
        .where(Claim.created_at < clock.cutoff, Claim.status.not_in(_NEVER_CREDITED))
        .order_by(Claim.id)
    )
    return list(session.scalars(query))


def activity_events(claims: Iterable[Claim], clock: Clock, by: Breakdown | None) -> list[Event]:
    """Accepted activities by the day they were accepted: grams of CO2e avoided and counts.
    ``by`` None gives the city's totals (one key, ``total``)."""
    events: list[Event] = []
    for claim in claims:
        day = clock.day(claim.created_at)
        if by is None:
            events.append(Event(day, TOTAL, claim.beneficiary, _activity(claim.amount)))
        elif by == "district":
            key = claim.district or UNASSIGNED
            events.append(Event(day, key, claim.beneficiary, _activity(claim.amount)))
        elif by == "mode":
            if claim.kind == "trip" and claim.mode:
                events.append(Event(day, claim.mode, claim.beneficiary, _activity(claim.amount)))
        elif claim.kind == "purchase":
            grams: dict[str, int] = defaultdict(int)
            for part in claim.inputs["components"]:
                saved = max(0, int(part["baseline_g"]) - int(part["label_g"]))
                grams[category_group(part["category"])] += saved * int(part["quantity"])
            for group, value in grams.items():
                events.append(Event(day, group, claim.beneficiary, _activity(value)))
    return events


def _activity(grams: int) -> dict[str, int]:
    return {"co2e_g": grams, "activities": 1}


def credit_events(session: Session, clock: Clock) -> tuple[list[Event], set[date]]:
    """Credits issued, traded (settled fills) and retired (confirmed), by day; and the days
    some of whose claims are not on chain yet.

    Issued credits count on the day their claims were *accepted* (the activities' day), not the
    day they reached the chain: a claim accepted at 23:59 and issued at 00:01 would otherwise
    make "the day's CO2e minus the day's issued credits" one claim. A day's issued figure is
    held back until every claim of that day is on chain, so it never changes once shown (it
    then equals the day's CO2e: one credit per gram)."""
    events: list[Event] = []
    pending: set[date] = set()
    issued = select(Claim.beneficiary, Claim.amount, Claim.created_at, Claim.status).where(
        Claim.created_at < clock.cutoff, Claim.status.not_in(_NEVER_CREDITED)
    )
    for beneficiary, amount, created_at, status in session.execute(issued):
        day = clock.day(created_at)
        if status == ClaimStatus.issued:
            events.append(Event(day, "issued", beneficiary, {"grams": amount, "count": 1}))
        else:
            pending.add(day)
    fills = select(
        MarketFill.buyer,
        MarketFill.seller,
        MarketFill.quantity,
        MarketFill.won,
        MarketFill.settled_at,
    ).where(
        MarketFill.status == FillStatus.settled,
        MarketFill.settled_at.is_not(None),
        MarketFill.settled_at < clock.cutoff,
    )
    for buyer, seller, quantity, won, settled_at in session.execute(fills):
        day = clock.day(settled_at)
        events.append(Event(day, "traded", buyer, {"grams": quantity, "won": won, "count": 1}))
        events.append(Event(day, "traded", seller, {}))
    cutoff = int(clock.cutoff.timestamp())
    retired = select(Certificate.holder, Certificate.amount, Certificate.retired_at).where(
        Certificate.status == CertificateStatus.confirmed,
        Certificate.retired_at.is_not(None),
        Certificate.retired_at < cutoff,
    )
    for holder, amount, retired_at in session.execute(retired):
        day = clock.day(datetime.fromtimestamp(int(retired_at or 0), UTC))
        events.append(Event(day, "retired", holder, {"grams": amount, "count": 1}))
    return events, pending


# -- what the routes publish ------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """One ended bucket: its cells in the dimension's fixed order (and its total)."""

    period: str
    cells: list[tuple[str, Cell]]
    total: Cell | None = None


def _cells(table: Table, label: str, keys: tuple[str, ...]) -> list[tuple[str, Cell]]:
    row = table.get(label, {})
    return [(key, row.get(key) or Cell(suppressed=True)) for key in keys]


def activities(
    session: Session, settings: Settings, now: datetime, period: Period, by: Breakdown
) -> list[Published]:
    """CO2e avoided, activities and participants by ``by``, per ended ``period`` bucket."""
    clock = Clock.at(settings, now)
    k = settings.open_data_min_citizens
    claims = _claims(session, clock)
    # Trip modes and product categories are one partition of the activities (their grams add
    # up to the total): suppressed together, or "total minus the modes" would give away the
    # categories' small cells.
    together: tuple[Breakdown, ...] = ("district",) if by == "district" else ("mode", "category")
    keys = tuple(key for part in together for key in dimension(part))
    events = [event for part in together for event in activity_events(claims, clock, part)]
    table = protected(events, keys, period, k, complementary=True)
    totals = protected(
        activity_events(claims, clock, None), (TOTAL,), period, k, complementary=False
    )
    return [
        Published(label, _cells(table, label, dimension(by)), cells[TOTAL])
        for label, cells in published(totals, period, clock)
    ]


def credits(session: Session, settings: Settings, now: datetime, period: Period) -> list[Published]:
    """Credits issued, traded and retired, city-wide (a trade or a retirement has no place),
    per ended ``period`` bucket (issued: once all the bucket's claims are on chain)."""
    clock = Clock.at(settings, now)
    k = settings.open_data_min_citizens
    events, pending = credit_events(session, clock)
    table = protected(events, CREDIT_FLOWS, period, k, complementary=False)
    for label in {bucket_of(day, period) for day in pending}:
        if label in table:
            table[label]["issued"].suppressed = True
    return [
        Published(label, _cells(table, label, CREDIT_FLOWS))
        for label, _ in published(table, period, clock)
    ]
