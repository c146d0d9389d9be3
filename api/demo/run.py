"""``crda demo``: a believable day in the city, played against a running platform over HTTP.

Everything goes through the public API with the typed client (``crda_client``), the way the
mobile app, the verifiers' desks and the partners' systems use it, with two exceptions a real
deployment has too: the first operator and the auditor are made directly in the database (with
``create_account``, as ``crda identity create-staff`` does: nobody signs up as staff), and the
partners' signing keys and the desks' uniqueness keys are computed here, on the partners' and
desks' side, never by the API.

The day, one module per phase, in the order :meth:`Demo.run` plays them: the operator
accredits verifiers and registers merchants and mobility operators (``staff``, ``partners``); a
few hundred citizens sign up and are verified at a desk (``people``); they ride, cycle, shop and
their apps submit the signed records (yesterday's, and the days before for the busiest: at most
five activities a day, as a real week of commuting and shopping); a few try to cheat and are
refused; the chain issues the credits in batches (``activities``); some citizens sell on the
market and businesses buy (``market``); businesses retire what they bought and show a
certificate anyone can check (``retire``). ``summary`` prints the :class:`Report`.
"""

from __future__ import annotations

import random
import secrets
import time
from typing import Any
from urllib.parse import urlparse

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.demo.activities import live_the_day, wait_for_issuance
from api.demo.day import Day, DemoError, Person, Sizes
from api.demo.market import market_session
from api.demo.partners import Partners, welcome_partners
from api.demo.people import Businesses, verify_businesses, verify_citizens
from api.demo.report import Report
from api.demo.retire import read_supply, retirements
from api.demo.staff import Staff, sign_in_staff
from api.settings import LOOPBACK_HOSTS, Settings
from crda_client import Client, ProblemError


def new_tag() -> str:
    """A short run tag (base 36 of the time, plus randomness): emails and record ids per run."""
    value, digits = int(time.time()) * 1000 + secrets.randbelow(1000), ""
    while value:
        value, rest = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits


class Demo:
    """One run of the day against ``base_url`` (``http``: an httpx client to use instead).

    After :meth:`run`, what each phase produced stays readable (``citizens``, ``businesses``,
    ...), for a test to check against the API.
    """

    staff: Staff
    partners: Partners
    citizens: list[Person]
    businesses: Businesses
    issued: dict[str, int]  # citizen account id -> grams issued
    bought: dict[str, int]  # business account id -> grams bought

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
        if not settings.local_development or urlparse(base_url).hostname not in LOOPBACK_HOSTS:
            raise DemoError(
                "the demo makes accounts with a published password: it runs only in local "
                "development against a local API (CRDA_ENVIRONMENT development or test, "
                "CRDA_API_HOST, CRDA_PUBLIC_URL, CRDA_RPC_URL and --base-url on loopback)"
            )
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

    def run(self) -> Report:
        """The day's phases in order, then the auditor's supply; the report says what happened."""
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
                day = self._day(progress)
                self._morning(day)
                self.citizens = verify_citizens(day, self.partners.desks)
                self.businesses = verify_businesses(day, self.partners.desks, self.staff.operator)
                live_the_day(day, self.citizens, self.partners)
                self.issued = wait_for_issuance(day, self.citizens)
                self.bought = market_session(day, self.citizens, self.businesses, self.issued)
                retirements(day, self.citizens, self.businesses, self.issued, self.bought)
            read_supply(day, self.staff.auditor)
        finally:
            if self._own_http:
                self.http.close()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _day(self, progress: Progress) -> Day:
        return Day(
            settings=self.settings,
            base_url=self.base_url,
            sizes=self.sizes,
            seed=self.seed,
            tag=self.tag,
            rng=self.rng,
            workers=self.workers,
            poll_timeout=self.poll_timeout,
            http=self.http,
            progress=progress,
            report=self.report,
        )

    def _check_platform(self) -> None:
        try:
            Client(self.base_url, http=self.http).readyz()
        except (httpx.HTTPError, ProblemError) as exc:
            raise DemoError(
                f"no ready CRDA API at {self.base_url} ({exc}); start it with `make up`"
            ) from exc

    def _morning(self, day: Day) -> None:
        """Staff, verifier organisations and their desks, data providers and their keys."""
        s = self.sizes
        task = day.progress.add_task(
            "operator, verifiers, partners", total=2 + s.verifiers * 2 + s.merchants + s.mobility
        )
        step = lambda: day.progress.advance(task)  # noqa: E731
        self.staff = sign_in_staff(day, step)
        self.partners = welcome_partners(day, self.staff.operator, step)


def run_demo(
    settings: Settings, base_url: str, sizes: Sizes | None = None, **options: Any
) -> Report:
    """Run the day and return its report (the CLI prints it)."""
    return Demo(settings, base_url, sizes, **options).run()
