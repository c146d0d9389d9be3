"""``crda demo``: a believable day in the city, played against a running platform over HTTP.

Everything goes through the public API with the typed client (``crda_client``), the way the
mobile app, the verifiers' desks and the partners' systems use it, with two exceptions a real
deployment has too: the first operator and the auditor are made directly in the database (with
``create_account``, as ``crda identity create-staff`` does: nobody signs up as staff), and the
partners' signing keys and the desks' uniqueness keys are computed here, on the partners' and
desks' side, never by the API.

The day: the operator accredits verifiers and registers merchants and mobility operators; a few
hundred citizens sign up and are verified at a desk; they ride, cycle, shop and their apps
submit the signed records (yesterday's, and the days before for the busiest: at most five
activities a day, as a real week of commuting and shopping); a few try to cheat and are
refused; the chain issues the credits in batches; some citizens sell on the market and
businesses buy; businesses retire what they bought and show a certificate anyone can check.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from api.demo import city
from api.demo.city import Activity, DayPlanner, Partner
from api.settings import PROJECT_ROOT, Environment, Settings
from crda_client import Client, ProblemError
from identity.uniqueness import uniqueness_key

T = TypeVar("T")
P = ParamSpec("P")

PASSWORD = "a-day-in-the-city-2026"  # noqa: S105  (every demo account; devnet only)
OPERATOR_EMAIL = "demo-operator@city.example"
AUDITOR_EMAIL = "demo-auditor@city.example"
KG = 1000
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


class DemoError(Exception):
    """The demo cannot go on (the platform is not up, or is not the one the settings name)."""


@dataclass(frozen=True)
class Sizes:
    """How big the day is."""

    citizens: int = 300
    verifiers: int = 2
    merchants: int = 3
    mobility: int = 4
    activities: int = 3000
    businesses: int = 3
    # Fraud attempts per thousand activities (at least one of each kind).
    fraud_per_mille: int = 20
    # Share of citizens with at least 2 kg issued who sell part of it.
    sellers_percent: int = 40
    citizen_retirements: int = 2


@dataclass(eq=False)
class Person:
    """One account and its signed-in client (clients share one connection pool)."""

    client: Client
    email: str
    name: str
    account_id: str = ""
    address: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def call(
        self, method: Callable[Concatenate[Client, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``method(client, ...)``; an expired access token is refreshed once, then retried."""
        try:
            return method(self.client, *args, **kwargs)
        except ProblemError as exc:
            if exc.status != 401 or self.client.refresh_token is None:
                raise
            with self.lock:
                try:
                    self.client.refresh()
                except ProblemError:
                    self.client.sign_in(self.email, PASSWORD)
            return method(self.client, *args, **kwargs)


@dataclass
class Certificate:
    serial: int
    amount: int
    holder_name: str
    verification_url: str
    qr_url: str
    page_url: str
    verified: bool
    business: bool = False


@dataclass
class Report:
    """What the day produced, as the API reported it."""

    base_url: str
    tag: str
    seed: int
    citizens_verified: int = 0
    businesses_verified: int = 0
    verifiers: int = 0
    providers: int = 0
    duplicate_identities_refused: int = 0
    submitted: int = 0
    accepted: Counter[str] = field(default_factory=Counter)  # by mode or "purchase"
    refused: Counter[str] = field(default_factory=Counter)  # by problem slug
    fraud_attempts: int = 0
    fraud_refused: int = 0
    claims_issued: int = 0
    claims_pending: int = 0
    credits_issued_g: int = 0
    sell_orders: int = 0
    buy_orders: int = 0
    market_refused: Counter[str] = field(default_factory=Counter)
    trades: int = 0
    traded_g: int = 0
    traded_won: int = 0
    retirements: int = 0
    business_retirements: int = 0
    retired_g: int = 0
    certificates: list[Certificate] = field(default_factory=list)
    supply: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def featured(self) -> Certificate | None:
        """The certificate the summary shows: a business's, the largest."""
        return max(self.certificates, key=lambda c: (c.business, c.amount), default=None)


def ensure_staff(settings: Settings, email: str, role: Literal["operator", "auditor"]) -> None:
    """The operator or auditor account, made in the database if it does not exist yet.

    Staff cannot sign up through the API, so this uses ``create_account`` exactly as
    ``crda identity create-staff`` does; an existing account of that email is reused.
    """
    from api.auth.models import Account as AccountRow
    from api.auth.models import Role
    from api.auth.service import create_account, normalise_email
    from api.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            found = session.scalar(
                select(AccountRow).where(AccountRow.email == normalise_email(email))
            )
            if found is None:
                create_account(session, settings, email=email, password=PASSWORD, role=Role(role))
    except SQLAlchemyError as exc:
        raise DemoError(
            f"cannot make the {role} account in {settings.database_url}: {exc.__class__.__name__}"
            " (run the demo with the API's CRDA_DATABASE_URL, after `make up`)"
        ) from exc
    finally:
        engine.dispose()


def sign_typed(
    domain: dict[str, Any],
    types: dict[str, Any],
    primary: str,
    message: dict[str, Any],
    key: LocalAccount,
) -> str:
    """A partner's EIP-712 signature over a record, from the domain and types the API serves."""
    # eth_account derives the EIP712Domain type from the domain's own fields.
    signed = key.sign_typed_data(
        domain, {name: types[name] for name in _types_of(primary)}, message
    )
    return "0x" + bytes(signed.signature).hex()


def _types_of(primary: str) -> tuple[str, ...]:
    return ("Receipt", "LineItem") if primary == "Receipt" else ("Trip",)


def _partner_key(seed: int, tag: str, slug: str) -> LocalAccount:
    """A partner's signing key (the partner's own secret; derived here so a run is repeatable)."""
    return Account.from_key(keccak(text=f"crda-demo:{seed}:{tag}:{slug}"))


def new_tag() -> str:
    """A short run tag (base 36 of the time, plus randomness): emails and record ids per run."""
    value, digits = int(time.time()) * 1000 + secrets.randbelow(1000), ""
    while value:
        value, rest = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits


class Demo:
    """One run of the day against ``base_url`` (``http``: an httpx client to use instead)."""

    def __init__(
        self,
        settings: Settings,
        base_url: str,
        sizes: Sizes | None = None,
        *,
        seed: int = 2026,
        tag: str | None = None,
        workers: int = 8,
        http: httpx.Client | None = None,
        console: Console | None = None,
        poll_timeout: float = 180.0,
    ) -> None:
        if settings.environment is Environment.production:
            raise DemoError("the demo makes accounts with a known password: not in production")
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.sizes = sizes or Sizes()
        self.seed = seed
        self.tag = tag or new_tag()
        self.rng = random.Random(seed)
        self.workers = max(1, workers)
        self.poll_timeout = poll_timeout
        self.console = console or Console()
        limits = httpx.Limits(
            max_connections=self.workers * 2, max_keepalive_connections=self.workers * 2
        )
        self._own_http = http is None
        self.http = http or httpx.Client(base_url=self.base_url, timeout=60.0, limits=limits)
        self.report = Report(self.base_url, self.tag, seed)
        self._report_lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------
    def _client(self) -> Client:
        return Client(self.base_url, http=self.http)

    def _signed_in(self, email: str, name: str = "") -> Person:
        person = Person(self._client(), email, name)
        pair = person.client.sign_in(email, PASSWORD)
        person.account_id = pair["account_id"]
        return person

    def _sign_up(
        self,
        label: str,
        name: str,
        role: Literal["citizen", "business"] = "citizen",
        **personal: str,
    ) -> Person:
        email = f"{label}.{self.tag}@{'biz.' if role == 'business' else ''}demo.example"
        client = self._client()
        account = client.sign_up(email, PASSWORD, role=role, name=name, **personal)
        person = self._signed_in(email, name)
        assert person.account_id == account["id"]
        return person

    def _parallel(
        self, items: Iterable[T], action: Callable[[T], Any], advance: Callable[[], None]
    ) -> list[Any]:
        """``action`` over ``items`` on the thread pool, in order; ``advance`` after each."""

        def run(item: T) -> Any:
            try:
                return action(item)
            finally:
                advance()

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(run, items))

    def _wait(self, what: str, done: Callable[[], bool], timeout: float | None = None) -> bool:
        """Poll ``done`` until it holds or the timeout passes (then a note in the report)."""
        deadline = time.monotonic() + (timeout or self.poll_timeout)
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.5)
        self.report.notes.append(
            f"gave up waiting for {what} after {timeout or self.poll_timeout:.0f}s"
        )
        return False

    # -- the day ---------------------------------------------------------------------------
    def run(self) -> Report:
        started = time.monotonic()
        try:
            self._check_platform()
            columns = (
                TextColumn("{task.description:<34}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=self.console) as progress:
                self.progress = progress
                self._morning_setup()
                self._verify_citizens()
                self._verify_businesses()
                self._live_the_day()
                self._wait_for_issuance()
                self._market_session()
                self._retirements()
            self._read_supply()
        finally:
            if self._own_http:
                self.http.close()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _check_platform(self) -> None:
        try:
            self._client().readyz()
        except (httpx.HTTPError, ProblemError) as exc:
            raise DemoError(
                f"no ready CRDA API at {self.base_url} ({exc}); start it with `make up`"
            ) from exc

    def _morning_setup(self) -> None:
        """Staff, verifier organisations and their desks, data providers and their keys."""
        s = self.sizes
        task = self.progress.add_task(
            "operator, verifiers, partners", total=2 + s.verifiers * 2 + s.merchants + s.mobility
        )
        step = lambda: self.progress.advance(task)  # noqa: E731
        ensure_staff(self.settings, OPERATOR_EMAIL, "operator")
        ensure_staff(self.settings, AUDITOR_EMAIL, "auditor")
        try:
            self.operator = self._signed_in(OPERATOR_EMAIL, "City platform team")
            step()
            self.auditor = self._signed_in(AUDITOR_EMAIL, "City audit office")
            step()
        except ProblemError as exc:
            raise DemoError(
                f"the staff accounts made in {self.settings.database_url} cannot sign in at "
                f"{self.base_url} ({exc.slug}): run the demo with the API's CRDA_DATABASE_URL"
            ) from exc
        self.domain = self._client().evidence_domain()
        factors = self._client().methodology(self.settings.methodology_version)["factors"]
        baselines = {k: int(v["baseline_g"]) for k, v in factors["product_categories"].items()}
        self.modes = set(factors["modes"])

        self.desks: list[Person] = []
        for i in range(s.verifiers):
            name = city.VERIFIERS[i % len(city.VERIFIERS)]
            org = self.operator.call(Client.register_verifier, name)
            step()
            desk = self._sign_up(f"desk{i}", f"{name} desk")
            self.operator.call(Client.add_verifier_member, org["id"], desk.account_id)
            self.desks.append(self._signed_in(desk.email, desk.name))
            step()
        self.report.verifiers = len(self.desks)

        partners = [*city.MERCHANTS[: s.merchants], *city.MOBILITY[: s.mobility]]
        self.keys: dict[str, LocalAccount] = {}
        for partner in partners:
            key = _partner_key(self.seed, self.tag, partner.slug)
            code = f"{partner.slug}-{self.tag}"
            self.operator.call(
                Client.register_provider, code, partner.name, partner.kind, key.address
            )
            self.keys[partner.slug] = key
            step()
        self.report.providers = len(partners)
        self.merchants = [p for p in partners if p.kind == "merchant"]
        self.mobility = [
            Partner(p.slug, p.name, p.kind, tuple(m for m in p.modes if m in self.modes))
            for p in partners
            if p.kind == "mobility"
        ]
        self.baselines = baselines

    def _verify_citizens(self) -> None:
        """Citizens sign up in the app and are verified at a desk (one chain attestation each)."""
        s = self.sizes
        pepper = self.settings.uniqueness_pepper.get_secret_value()
        profiles = [
            (
                i,
                city.person_name(self.rng),
                city.phone(self.rng),
                city.birth_date(self.rng),
                city.national_id(self.rng, self.tag, i),
            )
            for i in range(s.citizens)
        ]
        duplicates = max(1, s.citizens // 100) if s.citizens else 0
        task = self.progress.add_task("citizens verified", total=s.citizens + duplicates)

        def verify(profile: tuple[int, str, str, str, str]) -> Person:
            i, name, phone, birth, national = profile
            person = self._sign_up(f"citizen{i}", name, phone=phone, birth_date=birth)
            desk = self.desks[i % len(self.desks)]
            key = uniqueness_key(national, pepper)
            desk.call(
                Client.issue_credential, person.account_id, assurance_level=2, uniqueness_key=key
            )
            person.address = person.call(Client.get_wallet)["address"]
            return person

        self.citizens: list[Person] = self._parallel(
            profiles, verify, lambda: self.progress.advance(task)
        )
        self.report.citizens_verified = len(self.citizens)
        # Someone tries a second account with a verified neighbour's national ID.
        for n in range(duplicates):
            national = profiles[self.rng.randrange(len(profiles))][4]
            impostor = self._sign_up(f"impostor{n}", city.person_name(self.rng))
            key = uniqueness_key(national, pepper)
            try:
                self.desks[0].call(
                    Client.issue_credential,
                    impostor.account_id,
                    assurance_level=2,
                    uniqueness_key=key,
                )
                self.report.notes.append("a second identity for one national ID was accepted!")
            except ProblemError as exc:
                if exc.slug == "duplicate-identity":
                    self.report.duplicate_identities_refused += 1
                else:
                    self.report.refused[f"identity:{exc.slug}"] += 1
            self.progress.advance(task)

    def _verify_businesses(self) -> None:
        """Businesses sign up, are verified as organisations and deposit won for buying."""
        s = self.sizes
        task = self.progress.add_task("businesses verified, won deposited", total=s.businesses)
        pepper = self.settings.uniqueness_pepper.get_secret_value()
        self.businesses: list[Person] = []
        self.deposits: dict[str, int] = {}
        for i in range(s.businesses):
            name = city.BUSINESSES[i % len(city.BUSINESSES)]
            business = self._sign_up(f"business{i}", name, role="business")
            registration = f"BRN-{self.tag}-{i:03d}"  # the business registration number
            key = uniqueness_key(registration, pepper)
            desk = self.desks[i % len(self.desks)]
            desk.call(
                Client.issue_credential, business.account_id, assurance_level=3, uniqueness_key=key
            )
            business.address = business.call(Client.get_wallet)["address"]
            amount = self.rng.choice((500_000, 1_000_000, 2_000_000))
            reference = f"bank-transfer-{self.tag}-{i:03d}"
            self.operator.call(
                Client.deposit, business.account_id, amount, reference, idempotency_key=reference
            )
            self.deposits[business.account_id] = amount
            self.businesses.append(business)
            self.progress.advance(task)
        self.report.businesses_verified = len(self.businesses)

    # -- activities ------------------------------------------------------------------------
    def _plan(self) -> list[tuple[Person, list[Activity]]]:
        s = self.sizes
        now = datetime.now(UTC)
        local_midnight = (now + CITY_UTC_OFFSET).replace(hour=0, minute=0, second=0, microsecond=0)
        day_start = int((local_midnight - CITY_UTC_OFFSET - timedelta(days=1)).timestamp())
        from api.earning.methodology import stations as station_registry

        stations = {
            code: (city.micro(st.lat), city.micro(st.lon))
            for code, st in station_registry().items()
        }
        addresses = {slug: key.address for slug, key in self.keys.items()}
        planner = DayPlanner(
            self.rng,
            self.tag,
            day_start,
            self.merchants,
            self.mobility,
            addresses,
            stations,
            self.baselines,
        )
        self.planner = planner
        # Some citizens are busier than others: split the activities with uneven weights.
        counts = (
            Counter(
                self.rng.choices(
                    range(len(self.citizens)),
                    weights=[self.rng.randint(2, 5) for _ in self.citizens],
                    k=s.activities,
                )
            )
            if self.citizens
            else Counter()
        )
        plans = [(c, planner.days(c.address, counts[i])) for i, c in enumerate(self.citizens)]
        if not plans:
            return plans
        frauds = max(len(FRAUDS), s.activities * s.fraud_per_mille // 1000)
        late = day_start + 23 * 3600 + 1800
        for n in range(frauds):
            kind = FRAUDS[n % len(FRAUDS)]
            person, day = plans[self.rng.randrange(len(plans))]
            other = plans[self.rng.randrange(len(plans))][0]
            attempt = self._fraud(kind, person, other, day, late + n * 60)
            if attempt is not None:
                day.append(attempt)
        return plans

    def _fraud(
        self, kind: str, person: Person, other: Person, day: list[Activity], at: int
    ) -> Activity | None:
        planner = self.planner
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
        if not self.merchants:
            return None
        receipt = planner.receipt(person.address, at)
        receipt.attempt = kind
        if kind == "evidence-not-yours":
            receipt.evidence["citizen"] = (
                other.address if other is not person else (self._stranger())
            )
        elif kind == "unknown-provider":
            receipt.forged = True
        return receipt

    def _stranger(self) -> str:
        """An address no citizen of this run holds."""
        return Account.from_key(keccak(text=f"crda-demo:nobody:{self.tag}")).address

    def _submit(self, person: Person, activity: Activity) -> None:
        primary = "Trip" if activity.kind == "trip" else "Receipt"
        evidence = dict(activity.evidence)
        if activity.forged:
            forger = Account.from_key(keccak(text=f"crda-demo:forger:{self.tag}"))
            evidence["merchant"] = forger.address
            key = forger
        else:
            key = self.keys[activity.partner.slug]
        signature = sign_typed(self.domain["domain"], self.domain["types"], primary, evidence, key)
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
        with self._report_lock:
            self.report.submitted += 1
            if outcome == "accepted":
                self.report.accepted[label] += 1
                if activity.attempt:
                    self.report.notes.append(f"a {activity.attempt} attempt was accepted")
            else:
                self.report.refused[label] += 1
            if activity.attempt:
                self.report.fraud_attempts += 1
                self.report.fraud_refused += outcome == "refused"

    def _live_the_day(self) -> None:
        plans = self._plan()
        total = sum(len(day) for _p, day in plans)
        task = self.progress.add_task("trips and receipts submitted", total=total)

        def live(plan: tuple[Person, list[Activity]]) -> None:
            person, day = plan
            for activity in day:
                self._submit(person, activity)
                self.progress.advance(task)

        self._parallel(plans, live, lambda: None)

    def _claims_of(self, person: Person) -> list[dict[str, Any]]:
        claims: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = person.call(Client.claims, limit=200, cursor=cursor)
            claims += [dict(item) for item in page["items"]]
            cursor = page.get("next_cursor")
            if cursor is None:
                return claims

    def _wait_for_issuance(self) -> None:
        """Claims are minted in batches by the outbox worker; poll until each is issued."""
        accepted = sum(self.report.accepted.values())
        task = self.progress.add_task("credits issued on chain (claims)", total=accepted)
        self.issued: dict[str, int] = {}  # account id -> grams issued
        waiting = list(self.citizens)

        def check(person: Person) -> tuple[Person, int, int, int]:
            claims = self._claims_of(person)
            issued = [c for c in claims if c["status"] == "issued"]
            return (
                person,
                len(claims) - len(issued),
                len(issued),
                sum(int(c["amount_grams"]) for c in issued),
            )

        def done() -> bool:
            nonlocal waiting
            still: list[Person] = []
            for person, pending, count, grams in self._parallel(waiting, check, lambda: None):
                if pending:
                    still.append(person)
                else:
                    self.issued[person.account_id] = grams
                    self.report.claims_issued += count
                    self.report.credits_issued_g += grams
                    self.progress.advance(task, count)
            waiting = still
            return not waiting

        self._wait("issuance", done)
        for person in waiting:  # what stayed pending when the wait gave up
            _p, pending, count, grams = check(person)
            self.issued[person.account_id] = grams
            self.report.claims_issued += count
            self.report.claims_pending += pending
            self.report.credits_issued_g += grams

    # -- market ----------------------------------------------------------------------------
    def _market_session(self) -> None:
        """Citizens sell part of what they earned; businesses buy at a bid above every ask."""
        s = self.sizes
        candidates = [c for c in self.citizens if self.issued.get(c.account_id, 0) >= 2 * KG]
        sellers = self.rng.sample(
            candidates, len(candidates) * s.sellers_percent // 100 or min(1, len(candidates))
        )
        task = self.progress.add_task(
            "market: orders, settlement", total=len(sellers) + 2 * len(self.businesses)
        )
        expiry = int(time.time()) + 24 * 3600
        asks = [
            (p, self.rng.randint(105, 130), max(1, self.issued[p.account_id] // KG // 2))
            for p in sellers
        ]

        def sell(ask: tuple[Person, int, int]) -> int:
            person, price, kg = ask
            try:
                person.call(
                    Client.place_order,
                    person.address,
                    "sell",
                    price=price,
                    quantity=kg * KG,
                    expiry=expiry,
                    nonce=secrets.randbits(64),
                    idempotency_key=f"sell-{self.tag}-{person.account_id}",
                )
            except ProblemError as exc:
                with self._report_lock:
                    self.report.market_refused[exc.slug] += 1
                return 0
            with self._report_lock:
                self.report.sell_orders += 1
            return kg

        offered_kg = sum(self._parallel(asks, sell, lambda: self.progress.advance(task)))
        if self.report.market_refused.get("insufficient-balance"):
            self.report.notes.append(
                "sell orders were refused for insufficient balance: the market ledger does not "
                "yet record credits issued by earning (api.market.service.record_credits_issued)"
            )

        # Businesses wait for their won to land (minted through the outbox), then bid.
        def funded(business: Person) -> bool:
            lines = business.call(Client.statement, "KRW")
            return bool(lines) and lines[-1]["balance"] >= self.deposits[business.account_id]

        self._wait("deposits", lambda: all(funded(b) for b in self.businesses), 60)
        shares = [self.rng.randint(20, 35) for _ in self.businesses]
        bids: list[tuple[Person, int]] = []
        for business, share in zip(self.businesses, shares, strict=True):
            # Each business bids for its share of what is offered (at least a kilogram).
            kg = max(1, offered_kg * share // 100) if offered_kg else 0
            budget = self.deposits[business.account_id] // 135
            kg = min(kg, budget)
            if kg > 0:
                try:
                    business.call(
                        Client.place_order,
                        business.address,
                        "buy",
                        price=135,
                        quantity=kg * KG,
                        expiry=expiry,
                        nonce=secrets.randbits(64),
                        idempotency_key=f"buy-{self.tag}-{business.account_id}",
                    )
                    self.report.buy_orders += 1
                    bids.append((business, kg))
                except ProblemError as exc:
                    self.report.market_refused[exc.slug] += 1
            self.progress.advance(task)

        # Settlement on chain is asynchronous (the market ticker and the outbox).
        def settled(business: Person) -> bool:
            filled = sum(o["filled"] for o in business.call(Client.my_orders, limit=200)["items"])
            traded = sum(t["quantity"] for t in business.call(Client.my_trades, limit=200)["items"])
            return traded >= filled

        self._wait("settlement", lambda: all(settled(b) for b, _kg in bids))
        self.bought: dict[str, int] = {}
        for business in self.businesses:
            trades = business.call(Client.my_trades, limit=200)["items"]
            self.bought[business.account_id] = sum(
                t["quantity"] for t in trades if t["side"] == "buy"
            )
            self.report.trades += len(trades)
            self.report.traded_g += sum(t["quantity"] for t in trades)
            self.report.traded_won += sum(t["won"] for t in trades)
            self.progress.advance(task)

    # -- retirements -----------------------------------------------------------------------
    def _retirements(self) -> None:
        """Businesses retire most of what they bought; a few citizens retire some of theirs."""
        jobs: list[tuple[Person, int, str, str, bool]] = []
        for business in self.businesses:
            grams = self.bought.get(business.account_id, 0) * self.rng.randint(60, 90) // 100
            if grams > 0:
                jobs.append(
                    (
                        business,
                        grams,
                        business.name,
                        "Scope 3: employee commuting, November 2026",
                        True,
                    )
                )
        rich_citizens = sorted(self.citizens, key=lambda c: -self.issued.get(c.account_id, 0))
        for person in rich_citizens[: self.sizes.citizen_retirements]:
            grams = min(self.issued.get(person.account_id, 0) // 4, 1500)
            if grams > 0:
                jobs.append((person, grams, person.name, "My own footprint: heating, 2026", False))
        task = self.progress.add_task("retirements and certificates", total=len(jobs))

        def retire(job: tuple[Person, int, str, str, bool]) -> None:
            holder, grams, beneficiary, reason, publish = job
            try:
                pending = holder.call(
                    Client.retire,
                    grams,
                    beneficiary,
                    reason,
                    publish_beneficiary=publish,
                    idempotency_key=f"retire-{self.tag}-{holder.account_id}",
                )
            except ProblemError as exc:
                with self._report_lock:
                    self.report.refused[f"retirement:{exc.slug}"] += 1
                return
            found: dict[str, Any] = {}

            def confirmed() -> bool:
                found.update(holder.call(Client.my_retirement, pending["id"]))
                return found.get("status") in ("confirmed", "failed")

            self._wait(f"retirement {pending['id']}", confirmed, 120)
            if found.get("status") != "confirmed" or found.get("serial") is None:
                with self._report_lock:
                    self.report.refused[f"retirement:{found.get('error_name') or 'pending'}"] += 1
                return
            serial = int(found["serial"])
            check = self._client().verify_certificate(
                serial,
                amount=found["amount"],
                beneficiary_hash=found["beneficiary_hash"],
                tx_hash=found["tx_hash"],
            )
            certificate = Certificate(
                serial=serial,
                amount=int(found["amount"]),
                holder_name=beneficiary,
                verification_url=str(found.get("verification_url") or ""),
                qr_url=f"{self.base_url}/certificates/{serial}/qr",
                page_url=f"{self.base_url}/certificates/{serial}/page",
                verified=bool(check["verified"]),
                business=any(holder is b for b in self.businesses),
            )
            with self._report_lock:
                self.report.retirements += 1
                self.report.business_retirements += certificate.business
                self.report.retired_g += grams
                self.report.certificates.append(certificate)

        self._parallel(jobs, retire, lambda: self.progress.advance(task))
        self.report.certificates.sort(key=lambda c: c.serial)

    def _read_supply(self) -> None:
        """The auditor's view of the supply, once the index has caught up with the day."""
        summary: dict[str, Any] = {}

        def caught_up() -> bool:
            summary.update(self.auditor.call(Client.audit_summary))
            supply = summary["supply"]
            return (
                int(supply["issued"]) >= self.report.credits_issued_g
                and int(supply["retired"]) >= self.report.retired_g
            )

        try:
            self._wait("the auditor's index", caught_up, 30)
            self.report.supply = dict(summary["supply"])
        except ProblemError as exc:
            self.report.notes.append(f"the auditor's summary was not available ({exc.slug})")


# -- the summary ---------------------------------------------------------------------------------


def _kg(grams: int) -> str:
    return f"{grams // KG:,}.{grams % KG:03d} kg"


def print_report(report: Report, console: Console) -> None:
    """The summary table and where to look next."""
    table = Table(title=f"A day in the city (run {report.tag}, seed {report.seed})")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    accepted = sum(report.accepted.values())
    refused = sum(report.refused.values())
    rows = [
        ("verifiers / data providers", f"{report.verifiers} / {report.providers}"),
        ("citizens verified", f"{report.citizens_verified:,}"),
        ("businesses verified", f"{report.businesses_verified:,}"),
        ("second identities refused", f"{report.duplicate_identities_refused:,}"),
        ("activities submitted", f"{report.submitted:,}"),
        ("  accepted", f"{accepted:,}"),
        *((f"    {label}", f"{n:,}") for label, n in sorted(report.accepted.items())),
        ("  refused", f"{refused:,}"),
        *((f"    {slug}", f"{n:,}") for slug, n in sorted(report.refused.items())),
        ("fraud attempts refused", f"{report.fraud_refused} of {report.fraud_attempts}"),
        (
            "claims issued on chain",
            f"{report.claims_issued:,}"
            + (f" ({report.claims_pending} pending)" if report.claims_pending else ""),
        ),
        ("credits issued", _kg(report.credits_issued_g)),
        ("orders (sell / buy)", f"{report.sell_orders} / {report.buy_orders}"),
        *(
            (f"  order refused: {slug}", f"{n:,}")
            for slug, n in sorted(report.market_refused.items())
        ),
        ("trades settled", f"{report.trades:,}"),
        ("volume", f"{_kg(report.traded_g)} for {report.traded_won:,} won"),
        ("retirements (businesses)", f"{report.retirements} ({report.business_retirements})"),
        ("credits retired", _kg(report.retired_g)),
    ]
    if report.supply:
        supply = report.supply
        rows.append(
            (
                "supply on chain (issued / retired)",
                f"{_kg(int(supply['issued']))} / {_kg(int(supply['retired']))}",
            )
        )
    rows.append(("time", f"{report.seconds:.1f} s"))
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    base = report.base_url
    console.print("\n[bold]Where to look[/]")
    console.print(f"  API documentation   {PROJECT_ROOT / 'mobile_api_docs' / 'README.md'}")
    console.print(f"  interactive API     {base}/docs")
    console.print(
        f"  auditor dashboard   {base}/dashboard  (sign in: {AUDITOR_EMAIL} / {PASSWORD})"
    )
    best = report.featured()
    if best is not None:
        mark = "verified on chain" if best.verified else "[red]NOT verified[/]"
        console.print(
            f"  certificate #{best.serial}     {_kg(best.amount)} retired for "
            f"{best.holder_name}, {mark}"
        )
        console.print(f"    page              {best.page_url}")
        console.print(f"    verification      {best.verification_url}")
        console.print(f"    QR code           {best.qr_url}")


def run_demo(
    settings: Settings, base_url: str, sizes: Sizes | None = None, **options: Any
) -> Report:
    """Run the day and return its report (the CLI prints it)."""
    return Demo(settings, base_url, sizes, **options).run()
