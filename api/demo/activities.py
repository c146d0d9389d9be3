"""The day itself: citizens ride, cycle and shop, their apps submit the signed records, a few
try to cheat and are refused, and the outbox issues the credits in batches.

The partners sign each record here, on their side, with their own keys (``partners``); the
citizens' apps submit record and signature over HTTP.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account import Account
from eth_utils import keccak

from api.demo.city import Activity, DayPlanner, micro
from api.demo.day import KG, Day, Person
from api.demo.partners import Partners, sign_typed
from api.earning.methodology import stations as station_registry
from crda_client import Client, ProblemError

# Local time of the city (Korea, UTC+9): the activities end by yesterday, so none is in the future.
CITY_UTC_OFFSET = timedelta(hours=9)

FRAUDS = (
    "duplicate-evidence",  # the same receipt submitted again
    "evidence-signature-invalid",  # a trip's distance raised after the operator signed it
    "impossible-speed",  # a scooter ride at 60 km/h (a spoofed GPS track)
    "overlapping-trip",  # a second trip at the same time as one already credited
    "evidence-not-yours",  # a friend's receipt
    "unknown-provider",  # a receipt signed by a key no merchant registered
)


def plan(
    day: Day, citizens: list[Person], partners: Partners
) -> list[tuple[Person, list[Activity]]]:
    """Each citizen's activities (yesterday's and the days before), fraud attempts mixed in."""
    s = day.sizes
    now = datetime.now(UTC)
    local_midnight = (now + CITY_UTC_OFFSET).replace(hour=0, minute=0, second=0, microsecond=0)
    day_start = int((local_midnight - CITY_UTC_OFFSET - timedelta(days=1)).timestamp())
    stations = {code: (micro(st.lat), micro(st.lon)) for code, st in station_registry().items()}
    addresses = {slug: key.address for slug, key in partners.keys.items()}
    planner = DayPlanner(
        day.rng,
        day.tag,
        day_start,
        partners.merchants,
        partners.mobility,
        addresses,
        stations,
        partners.baselines,
    )
    # Some citizens are busier than others: split the activities with uneven weights.
    counts = (
        Counter(
            day.rng.choices(
                range(len(citizens)),
                weights=[day.rng.randint(2, 5) for _ in citizens],
                k=s.activities,
            )
        )
        if citizens
        else Counter()
    )
    plans = [(c, planner.days(c.address, counts[i])) for i, c in enumerate(citizens)]
    if not plans:
        return plans
    frauds = max(len(FRAUDS), s.activities * s.fraud_per_mille // 1000)
    late = day_start + 23 * 3600 + 1800
    for n in range(frauds):
        kind = FRAUDS[n % len(FRAUDS)]
        person, activities = plans[day.rng.randrange(len(plans))]
        other = plans[day.rng.randrange(len(plans))][0]
        attempt = _fraud(planner, kind, person, other, activities, late + n * 60)
        if attempt is not None:
            activities.append(attempt)
    return plans


def _fraud(
    planner: DayPlanner,
    kind: str,
    person: Person,
    other: Person,
    day: list[Activity],
    at: int,
) -> Activity | None:
    """One attempt of ``kind`` by ``person`` (``other``: a friend), or None if it cannot be made."""
    genuine = [a for a in day if a.attempt is None]
    if kind == "duplicate-evidence":
        receipts = [a for a in genuine if a.kind == "purchase"] or genuine
        if not receipts:
            return None
        target = receipts[0]
        return Activity(
            target.kind,
            target.partner,
            dict(target.evidence),
            list(target.gps_legs_m),
            attempt=kind,
        )
    if kind == "overlapping-trip":
        trips = [a for a in genuine if a.kind == "trip"]
        if not trips:
            return None
        target = trips[0]
        evidence = dict(target.evidence)
        evidence["tripId"] = planner._id("T")
        evidence["startedAt"] += 120
        evidence["endedAt"] += 120
        return Activity("trip", target.partner, evidence, attempt=kind)
    if kind in ("evidence-signature-invalid", "impossible-speed"):
        modes = [m for m in ("scooter", "bike", "subway", "bus") if m in planner.by_mode]
        if not modes:
            return None
        trip = planner.trip(person.address, modes[0], at)
        trip.attempt = kind
        if kind == "impossible-speed":
            distance = trip.evidence["distanceMeters"]
            trip.evidence["endedAt"] = at + max(1, distance * 3600 // (60 * KG))
        else:
            trip.tamper = {"distanceMeters": trip.evidence["distanceMeters"] * 3}
        return trip
    if not planner.merchants:
        return None
    receipt = planner.receipt(person.address, at)
    receipt.attempt = kind
    if kind == "evidence-not-yours":
        receipt.evidence["citizen"] = (
            other.address if other is not person else _stranger(planner.tag)
        )
    elif kind == "unknown-provider":
        receipt.forged = True
    return receipt


def _stranger(tag: str) -> str:
    """An address no citizen of this run holds."""
    return Account.from_key(keccak(text=f"crda-demo:nobody:{tag}")).address


def submit(day: Day, partners: Partners, person: Person, activity: Activity) -> None:
    """The partner signs the record, the citizen's app submits it; the outcome is counted."""
    primary = "Trip" if activity.kind == "trip" else "Receipt"
    evidence = dict(activity.evidence)
    if activity.forged:
        forger = Account.from_key(keccak(text=f"crda-demo:forger:{day.tag}"))
        evidence["merchant"] = forger.address
        key = forger
    else:
        key = partners.keys[activity.partner.slug]
    signature = sign_typed(partners.domain, partners.types, primary, evidence, key)
    if activity.tamper:
        evidence |= activity.tamper
    try:
        if activity.kind == "trip":
            claim = person.call(Client.submit_trip, evidence, signature, activity.gps_legs_m)
        else:
            claim = person.call(Client.submit_purchase, evidence, signature)
        outcome, label = "accepted", str(claim.get("mode") or "purchase")
    except ProblemError as exc:
        if exc.status >= 500:
            raise
        outcome, label = "refused", exc.slug
    report = day.report
    with day.report_lock:
        report.submitted += 1
        if outcome == "accepted":
            report.accepted[label] += 1
            if activity.attempt:
                report.notes.append(f"a {activity.attempt} attempt was accepted")
        else:
            report.refused[label] += 1
        if activity.attempt:
            report.fraud_attempts += 1
            report.fraud_refused += outcome == "refused"


def live_the_day(day: Day, citizens: list[Person], partners: Partners) -> None:
    """Every citizen's activities submitted in time order, citizens in parallel."""
    plans = plan(day, citizens, partners)
    total = sum(len(activities) for _p, activities in plans)
    task = day.progress.add_task("trips and receipts submitted", total=total)

    def live(plan: tuple[Person, list[Activity]]) -> None:
        person, activities = plan
        for activity in activities:
            submit(day, partners, person, activity)
            day.progress.advance(task)

    day.parallel(plans, live, lambda: None)


def _claims_of(person: Person) -> list[dict[str, Any]]:
    claims: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = person.call(Client.claims, limit=200, cursor=cursor)
        claims += [dict(item) for item in page["items"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            return claims


def wait_for_issuance(day: Day, citizens: list[Person]) -> dict[str, int]:
    """Claims are minted in batches by the outbox worker; poll until each is issued.

    Returns the grams issued to each citizen (by account id).
    """
    report = day.report
    accepted = sum(report.accepted.values())
    task = day.progress.add_task("credits issued on chain (claims)", total=accepted)
    issued: dict[str, int] = {}  # account id -> grams issued
    waiting = list(citizens)

    def check(person: Person) -> tuple[Person, int, int, int]:
        claims = _claims_of(person)
        minted = [c for c in claims if c["status"] == "issued"]
        return (
            person,
            len(claims) - len(minted),
            len(minted),
            sum(int(c["amount_grams"]) for c in minted),
        )

    def done() -> bool:
        nonlocal waiting
        still: list[Person] = []
        for person, pending, count, grams in day.parallel(waiting, check, lambda: None):
            if pending:
                still.append(person)
            else:
                issued[person.account_id] = grams
                report.claims_issued += count
                report.credits_issued_g += grams
                day.progress.advance(task, count)
        waiting = still
        return not waiting

    day.wait("issuance", done)
    for person in waiting:  # what stayed pending when the wait gave up
        _p, pending, count, grams = check(person)
        issued[person.account_id] = grams
        report.claims_issued += count
        report.claims_pending += pending
        report.credits_issued_g += grams
    return issued
