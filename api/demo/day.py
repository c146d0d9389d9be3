"""What every phase of the day shares: its sizes, the demo's accounts and the run's tools.

Each phase (``staff``, ``partners``, ``people``, ``activities``, ``market``, ``retire``) is a
function of a :class:`Day` and of what the phases before it produced; ``run`` calls them in
order. Every phase draws from the one ``Day.rng`` in the order the day happens, so the same
seed gives the same day.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

import httpx
from rich.progress import Progress

from api.demo.report import Report
from api.settings import DEMO_PASSWORD, Settings
from crda_client import Client, ProblemError

T = TypeVar("T")
P = ParamSpec("P")

PASSWORD = DEMO_PASSWORD  # every demo account (local development only)
OPERATOR_EMAIL = "demo-operator@city.example"
AUDITOR_EMAIL = "demo-auditor@city.example"
KG = 1000


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


@dataclass(eq=False)
class Day:
    """One run's tools: the platform it talks to, the seeded random, the progress and report.

    Phases running on the thread pool update ``report`` under ``report_lock``.
    """

    settings: Settings
    base_url: str
    sizes: Sizes
    seed: int
    tag: str
    rng: random.Random
    workers: int
    poll_timeout: float
    http: httpx.Client
    progress: Progress
    report: Report
    report_lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> Client:
        """A fresh API client on the run's shared connection pool."""
        return Client(self.base_url, http=self.http)

    def signed_in(self, email: str, name: str = "") -> Person:
        person = Person(self.client(), email, name)
        pair = person.client.sign_in(email, PASSWORD)
        person.account_id = pair["account_id"]
        return person

    def sign_up(
        self,
        label: str,
        name: str,
        role: Literal["citizen", "business"] = "citizen",
        **personal: str,
    ) -> Person:
        """A new account of this run (``label`` and the run tag make its email), signed in."""
        email = f"{label}.{self.tag}@{'biz.' if role == 'business' else ''}demo.example"
        client = self.client()
        account = client.sign_up(email, PASSWORD, role=role, name=name, **personal)
        person = self.signed_in(email, name)
        assert person.account_id == account["id"]
        return person

    def parallel(
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

    def wait(self, what: str, done: Callable[[], bool], timeout: float | None = None) -> bool:
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
