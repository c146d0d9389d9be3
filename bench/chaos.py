"""``crda chaos``: the platform as a city deploys it, driven over HTTP while processes die.

On PostgreSQL (a throwaway database) and a devnet of its own, the harness runs two API
processes (``crda serve``), one ``crda worker`` and one ``crda index`` as separate processes.
Seeded citizens, businesses and the operator (the demo's world: ``api/demo``) drive operations
over HTTP with the typed client, spread over both APIs: earning (with concurrent bursts at the
daily cap and overlapping trips sent together), orders, cancels, deposits, withdrawals and
retirements. Meanwhile the harness SIGKILLs a random process at random moments and restarts it.

When the operations are done and the platform has settled, it checks what must hold whatever
happened: every accepted claim issued exactly once; credit supply = issued claims - retired;
no citizen past a cap; no overlapping credited trips; the ledger sums to zero per asset and
equals the chain per holder (reconcile); won supply = deposits - withdrawals; the index equals
a clean re-index; no outbox row stuck; every answer a 2xx or a documented problem (a 5xx only
while a process was down).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import api.app  # noqa: F401  (every domain's problem types, for the catalogue)
from api.audit.indexer import ChainReader, Indexer, dump_index, indexed_block
from api.catalogue import entries
from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.deployments import load_deployment
from api.chain.devnet import Devnet, free_port, start_devnet
from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.demo.activities import CITY_UTC_OFFSET
from api.demo.city import Activity, DayPlanner, micro
from api.demo.day import KG, Day, Person, Sizes
from api.demo.partners import Partners, sign_typed, welcome_partners
from api.demo.people import verify_businesses, verify_citizens
from api.demo.report import Report
from api.demo.run import new_tag
from api.demo.staff import sign_in_staff
from api.earning.methodology import stations as station_registry
from api.earning.models import Claim, ClaimStatus
from api.market.models import FillStatus, MarketFill, TransferStatus, WonTransfer
from api.market.reconcile import reconcile
from api.migrate import upgrade
from api.outbox.models import ChainTransaction, OutboxStatus
from api.retirement.models import Certificate, CertificateStatus
from api.settings import PROJECT_ROOT, Environment, Settings
from crda_client import Client, ProblemError

PROCESSES = ("api-1", "api-2", "worker", "indexer")
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Operation kinds and their weights; a burst is several operations sent together.
WEIGHTS = {
    "earn": 36,
    "cap-burst": 8,
    "overlap-burst": 4,
    "sell": 11,
    "buy": 9,
    "cancel": 7,
    "deposit": 8,
    "withdrawal": 5,
    "retirement": 7,
    "read": 5,
}
CAP_BURST = 6  # receipts for one citizen and one day, sent at once
OVERLAP_BURST = 3  # trips in the same minutes, sent at once
# Activities are dated on the EARNING_DAYS local days up to yesterday, from 06:00: after the
# citizens' checks at their desks (dated 6 days 20 hours back, api/demo/people.py), so they
# earn, and within the claim window. Dated earlier, nearly all were refused citizen-unverified.
EARNING_DAYS = 6


@dataclass
class ChaosOptions:
    operations: int = 10_000
    kills: int = 50
    seed: int = 13
    # A PostgreSQL server URL: the run makes (and drops) throwaway databases on it.
    database_url: str = DEFAULT_SERVER
    kind: str = "hardhat"
    citizens: int = 40
    businesses: int = 4
    concurrency: int = 8
    settle_timeout: float = 600.0
    run_dir: Path | None = None
    # A bound on the operations' phase: operations not started by then are left out (and the
    # kills not made), the platform settles and everything is checked as usual.
    max_seconds: float | None = None


@dataclass
class ChaosReport:
    seed: int
    operations: Counter[str] = field(default_factory=Counter)  # by kind (a burst counts each)
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    kills: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    connection_errors: int = 0
    server_errors: list[str] = field(default_factory=list)  # 5xx outside a process's downtime
    undocumented: list[str] = field(default_factory=list)  # error answers not in the catalogue
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(passed for passed, _ in self.checks.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seed": self.seed,
            "operations": dict(self.operations),
            "outcomes": {k: dict(v) for k, v in self.outcomes.items()},
            "kills": dict(self.kills),
            "statuses": dict(self.statuses),
            "connection_errors": self.connection_errors,
            "server_errors": self.server_errors[:20],
            "undocumented": self.undocumented[:20],
            "checks": {k: {"ok": ok, "detail": d} for k, (ok, d) in self.checks.items()},
            "figures": self.figures,
            "seconds": round(self.seconds, 1),
        }


# -- the processes ------------------------------------------------------------------------------


class Fleet:
    """The platform's processes: started, SIGKILLed and restarted; their downtime recorded."""

    def __init__(self, env: dict[str, str], run_dir: Path, api_ports: list[int]) -> None:
        python = [sys.executable, "-m", "api.cli"]
        # The harness's simulated city signs up and acts from one address, which the public
        # limits would throttle (they are tested in tests/auth/test_throttling.py).
        api_env = {
            "CRDA_RUN_WORKERS": "false",
            "CRDA_INDEXER_ENABLED": "false",
            "CRDA_RATE_LIMITS_ENABLED": "false",
        }
        self.specs: dict[str, tuple[list[str], dict[str, str]]] = {
            f"api-{n}": ([*python, "serve", "--port", str(port)], {**env, **api_env})
            for n, port in enumerate(api_ports, 1)
        }
        self.specs["worker"] = ([*python, "worker"], env)
        self.specs["indexer"] = ([*python, "index"], env)
        self.ports = {f"api-{n}": port for n, port in enumerate(api_ports, 1)}
        self.run_dir = run_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.downtime: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()

    def start(self, name: str) -> None:
        argv, env = self.specs[name]
        with open(self.run_dir / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, name: str, timeout: float = 120.0) -> None:
        port = self.ports.get(name)
        if port is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.run_dir / (name + '.log')}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not become ready; see {self.run_dir / (name + '.log')}")

    def start_all(self) -> None:
        for name in self.specs:
            self.start(name)
        for name in self.specs:
            self.wait_ready(name)

    def kill(self, name: str) -> None:
        """SIGKILL ``name``, restart it and wait until it serves again."""
        began = time.monotonic()
        process = self.processes[name]
        with suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        self.start(name)
        self.wait_ready(name)
        with self._lock:
            self.downtime.append((name, began, time.monotonic()))

    def was_down(self, moment: float, grace: float = 2.0) -> bool:
        """Whether a process was down (or just back) at ``moment`` (monotonic)."""
        with self._lock:
            return any(start <= moment <= end + grace for _n, start, end in self.downtime)

    def stop_all(self) -> None:
        for process in self.processes.values():
            with suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


class Router(httpx.BaseTransport):
    """Spreads requests over the API processes (a load balancer's part): a refused connection
    goes to the next process; every answer's status is counted."""

    def __init__(self, ports: list[int], report: ChaosReport, lock: threading.Lock) -> None:
        self.ports = ports
        self.report = report
        self.lock = lock
        self.inner = httpx.HTTPTransport(limits=httpx.Limits(max_connections=64))
        self._turn = itertools.count()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        first = next(self._turn)
        refused: httpx.ConnectError | None = None
        for attempt in range(len(self.ports) * 20):
            port = self.ports[(first + attempt) % len(self.ports)]
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=port)
            try:
                response = self.inner.handle_request(request)
            except httpx.ConnectError as exc:
                refused = exc
                if attempt % len(self.ports) == len(self.ports) - 1:
                    time.sleep(0.25)  # every process refused: one is restarting
                continue
            except httpx.TransportError:
                with self.lock:
                    self.report.connection_errors += 1
                raise
            with self.lock:
                self.report.statuses[str(response.status_code)] += 1
            return response
        assert refused is not None
        with self.lock:
            self.report.connection_errors += 1
        raise refused

    def close(self) -> None:
        self.inner.close()


# -- the run ------------------------------------------------------------------------------------


@contextmanager
def throwaway_databases(server_url: str, count: int) -> Iterator[list[str]]:
    """``count`` new PostgreSQL databases on ``server_url``, dropped afterwards."""
    names = [f"crda_chaos_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server_url)
        yield [url.set(database=n).render_as_string(hide_password=False) for n in names]
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settings_env(values: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRDA_")}
    env |= {f"CRDA_{k.upper()}": str(v) for k, v in values.items()}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


class Chaos:
    """One run (:func:`run_chaos`)."""

    def __init__(self, options: ChaosOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.rng = random.Random(options.seed)
        self.report = ChaosReport(options.seed)
        self.lock = threading.Lock()
        self.done = 0
        self.operating = True
        # Whether a process was down at a moment (the fleet's record, once it runs).
        self.was_down: Callable[[float], bool] = lambda _moment: False
        self.documented = {entry.type for entry in entries()}

    # The platform -------------------------------------------------------------------------

    def run(self) -> ChaosReport:
        started = time.monotonic()
        o = self.options
        run_dir = o.run_dir or PROJECT_ROOT / "var" / f"chaos-{o.seed}"
        run_dir.mkdir(parents=True, exist_ok=True)
        compiled = compiler.compile_contracts(Settings().contracts_dir, Settings().artifacts_path)
        devnet = start_devnet(o.kind, free_port(), log_path=run_dir / "devnet.log")
        try:
            with throwaway_databases(o.database_url, 2) as (database, reindexed):
                self._run(devnet, compiled, database, reindexed, run_dir)
        finally:
            devnet.stop()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _run(
        self, devnet: Devnet, compiled: dict[str, Any], database: str, reindexed: str, run_dir: Path
    ) -> None:
        ports = [free_port(), free_port()]
        values: dict[str, Any] = {
            "environment": Environment.test.value,
            "database_url": database,
            "rpc_url": devnet.rpc_url,
            "deployments_dir": run_dir / "deployments",
            "public_url": f"http://127.0.0.1:{ports[0]}",
            "issuance_batch_max_wait": 0.3,
            "worker_interval": 0.1,
            "indexer_poll_interval": 0.3,
            "receipt_poll_interval": 0.02,
            # Low caps, so that bursts reach them.
            "daily_cap_grams": 2_000,
            "yearly_cap_grams": 25_000,
            "lease_ttl": 10,
        }
        settings = Settings(**values)
        ensure_deployed(
            settings,
            Artifacts.from_compiled(compiled),
            digest=compiled["digest"],
            compiler=compiled["compiler"],
        )
        upgrade(database)
        upgrade(reindexed)
        fleet = Fleet(settings_env(values), run_dir, ports)
        router = Router(ports, self.report, self.lock)
        http = httpx.Client(base_url="http://api.chaos", transport=router, timeout=60.0)
        engine = make_engine(database)
        sessions = make_session_factory(engine)
        try:
            self.console.print(f"chaos: devnet {devnet.rpc_url}, API ports {ports}, {run_dir}")
            fleet.start_all()
            world = self._world(settings, http)
            self.console.print(
                f"world: {len(world.citizens)} citizens, {len(world.businesses)} businesses;"
                f" {self.options.operations} operations, {self.options.kills} kills"
            )
            killer = threading.Thread(target=self._killer, args=(fleet,), daemon=True)
            killer.start()
            self._operate(world, fleet)
            killer.join()
            settled = self._settle(sessions, settings)
            self._check(settings, sessions, reindexed, fleet, settled)
        finally:
            fleet.stop_all()
            http.close()
            engine.dispose()

    def _world(self, settings: Settings, http: httpx.Client) -> World:
        o = self.options
        sizes = Sizes(
            citizens=o.citizens, verifiers=2, merchants=3, mobility=4, businesses=o.businesses
        )
        tag = new_tag()
        with Progress(console=self.console, transient=True) as progress:
            day = Day(
                settings=settings,
                base_url="http://api.chaos",
                sizes=sizes,
                seed=o.seed,
                tag=tag,
                rng=self.rng,
                workers=o.concurrency,
                poll_timeout=120,
                http=http,
                progress=progress,
                report=Report("http://api.chaos", tag, o.seed),
            )
            staff = sign_in_staff(day, lambda: None)
            partners = welcome_partners(day, staff.operator, lambda: None)
            citizens = verify_citizens(day, partners.desks)
            businesses = verify_businesses(day, partners.desks, staff.operator)
        now = datetime.now(UTC)
        local_midnight = (now + CITY_UTC_OFFSET).replace(hour=0, minute=0, second=0, microsecond=0)
        yesterday = int((local_midnight - CITY_UTC_OFFSET - timedelta(days=1)).timestamp())
        stations = {code: (micro(s.lat), micro(s.lon)) for code, s in station_registry().items()}
        planner = DayPlanner(
            self.rng,
            tag,
            yesterday,
            partners.merchants,
            partners.mobility,
            {slug: key.address for slug, key in partners.keys.items()},
            stations,
            partners.baselines,
        )
        return World(day, staff.operator, partners, citizens, businesses.members, planner)

    # Operations ---------------------------------------------------------------------------

    def _plan(self, world: World) -> list[Callable[[], None]]:
        """The seeded sequence of operations (each a closure; bursts count several)."""
        kinds, weights = zip(*WEIGHTS.items(), strict=True)
        plan: list[Callable[[], None]] = []
        planned = 0
        n = 0
        while planned < self.options.operations:
            kind = self.rng.choices(kinds, weights=weights)[0]
            n += 1
            op = world.operation(kind, n, random.Random(self.rng.getrandbits(64)), self)
            plan.append(op)
            planned += (
                CAP_BURST
                if kind == "cap-burst"
                else OVERLAP_BURST
                if kind == "overlap-burst"
                else 1
            )
        return plan

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        with self.lock:
            self.report.operations[kind] += n
            self.report.outcomes[kind][outcome] += n
            self.done += n

    def answer(self, kind: str, call: Callable[[], Any]) -> tuple[str, Any]:
        """``call`` (retried after a lost connection: every operation is safe to repeat);
        the outcome is ``ok`` or the problem's slug, which must be documented."""
        for attempt in range(8):
            try:
                return "ok", call()
            except ProblemError as exc:
                return self._problem(kind, exc), None
            except httpx.TransportError:
                time.sleep(0.2 * (attempt + 1))
        return "connection-lost", None

    def _problem(self, kind: str, exc: ProblemError) -> str:
        moment = time.monotonic()
        media = exc.response.headers.get("content-type", "")
        if exc.status >= 500 and not self.was_down(moment):
            with self.lock:
                self.report.server_errors.append(f"{kind}: {exc}")
        if exc.type not in self.documented or not media.startswith("application/problem+json"):
            with self.lock:
                self.report.undocumented.append(f"{kind}: {exc.status} {exc.type} ({media})")
        return exc.slug

    def _operate(self, world: World, fleet: Fleet) -> None:
        self.was_down = fleet.was_down
        plan = self._plan(world)
        began = time.monotonic()
        limit = self.options.max_seconds
        deadline = began + limit if limit else float("inf")
        reported = [0]

        def run(op: Callable[[], None]) -> None:
            if time.monotonic() > deadline:
                return
            op()
            if self.done - reported[0] >= 500:
                reported[0] = self.done
                self.console.print(
                    f"  {self.done} operations, {sum(self.report.kills.values())} kills,"
                    f" {time.monotonic() - began:.0f} s"
                )

        try:
            with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
                for future in [pool.submit(run, op) for op in plan]:
                    future.result()
        finally:
            self.operating = False
            self.report.figures["operations_s"] = round(time.monotonic() - began, 1)
            self.report.figures["cut_by_max_seconds"] = time.monotonic() > deadline

    def _killer(self, fleet: Fleet) -> None:
        """SIGKILL a random process each time the operations pass a seeded random mark."""
        o = self.options
        marks = sorted(self.rng.sample(range(1, max(o.operations, o.kills + 1)), o.kills))
        victims = [self.rng.choice(PROCESSES) for _ in marks]
        pauses = [self.rng.uniform(0, 0.5) for _ in marks]
        for mark, victim, pause in zip(marks, victims, pauses, strict=True):
            while self.operating and self.done < mark:
                time.sleep(0.05)
            if not self.operating and self.report.figures.get("cut_by_max_seconds"):
                return  # the phase was cut short: the kills left are not made
            time.sleep(pause)
            fleet.kill(victim)
            with self.lock:
                self.report.kills[victim] += 1

    # Settling and checking ----------------------------------------------------------------

    def _settle(self, sessions: sessionmaker[Session], settings: Settings) -> bool:
        """Wait until nothing is left to do: claims issued, outbox empty, fills settled,
        retirements and money movements done, the index at the head."""
        gateway = ChainGateway.connect(settings)
        deadline = time.monotonic() + self.options.settle_timeout
        while time.monotonic() < deadline:
            with sessions() as session:
                open_work = open_counts(session)
                indexed = indexed_block(session)
            if not any(open_work.values()) and indexed == gateway.block_number():
                return True
            time.sleep(0.5)
        self.report.figures["open_at_timeout"] = open_work
        return False

    def _check(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        reindexed: str,
        fleet: Fleet,
        settled: bool,
    ) -> None:
        checks = self.report.checks
        gateway = ChainGateway.connect(settings)
        checks["settled"] = (settled, "all work finished" if settled else "timed out")
        with sessions() as session:
            claims = list(session.scalars(select(Claim)))
            issued = [c for c in claims if c.status == ClaimStatus.issued]
            on_chain = [
                "0x" + bytes(c).hex()
                for log in gateway.events("Issuance", "BatchIssued", from_block=0)
                for c in log["args"]["claimIds"]
            ]
            ids = {c.claim_id.lower() for c in claims}
            checks["claims issued exactly once"] = (
                len(issued) == len(claims)
                and len(on_chain) == len(set(on_chain))
                and {c.lower() for c in on_chain} == ids,
                f"{len(claims)} accepted, {len(issued)} issued, {len(on_chain)} on chain"
                f" ({len(on_chain) - len(set(on_chain))} twice)",
            )
            retired = sum(
                c.amount
                for c in session.scalars(
                    select(Certificate).where(Certificate.status == CertificateStatus.confirmed)
                )
            )
            supply = int(gateway.contract("CRDAToken").functions.totalSupply().call())
            minted = sum(c.amount for c in issued)
            checks["supply = issued - retired"] = (
                supply == minted - retired,
                f"supply {supply} g; issued {minted} g - retired {retired} g",
            )
            checks["no citizen past a cap"] = caps_held(claims, settings)
            checks["no overlapping credited trips"] = no_overlaps(claims)
            reconciliation = reconcile(session, gateway)
            checks["ledger zero per asset, equal to chain per holder"] = (
                reconciliation.ok,
                f"{reconciliation.accounts_checked} accounts, "
                f"{len(reconciliation.differences)} differences, totals "
                f"{reconciliation.ledger_totals}",
            )
            moved = dict(
                session.execute(
                    select(WonTransfer.kind, func.coalesce(func.sum(WonTransfer.amount), 0))
                    .where(WonTransfer.status == TransferStatus.confirmed)
                    .group_by(WonTransfer.kind)
                ).all()
            )
            won = int(gateway.contract("SettlementToken").functions.totalSupply().call())
            deposits, withdrawals = int(moved.get("deposit", 0)), int(moved.get("withdrawal", 0))
            checks["won supply = deposits - withdrawals"] = (
                won == deposits - withdrawals,
                f"supply {won}; deposits {deposits} - withdrawals {withdrawals}",
            )
            stuck = open_counts(session)
            failed = Counter(
                row.error_name or "?"
                for row in session.scalars(
                    select(ChainTransaction).where(ChainTransaction.status == OutboxStatus.failed)
                )
            )
            checks["no outbox row stuck"] = (
                not stuck["outbox"],
                f"open {stuck}; failed for good: {dict(failed) or 'none'}",
            )
            ours = dump_index(session)
            self.report.figures |= {
                "claims": len(claims),
                "credits_issued_g": minted,
                "credits_retired_g": retired,
                "won_deposited": deposits,
                "won_withdrawn": withdrawals,
                "outbox_rows": session.scalar(select(func.count()).select_from(ChainTransaction)),
                "blocks": gateway.block_number(),
            }
        checks["index = clean re-index"] = self._reindex(settings, reindexed, ours)
        checks["answers: 2xx or documented problems"] = (
            not self.report.server_errors and not self.report.undocumented,
            f"{len(self.report.server_errors)} 5xx outside downtime, "
            f"{len(self.report.undocumented)} undocumented; "
            f"{self.report.connection_errors} connection errors during kills",
        )
        self.report.figures["downtime_s"] = round(sum(e - s for _n, s, e in fleet.downtime), 1)

    def _reindex(
        self, settings: Settings, database: str, ours: dict[str, list[tuple[Any, ...]]]
    ) -> tuple[bool, str]:
        engine = make_engine(database)
        try:
            clean = make_session_factory(engine)
            reader = ChainReader(settings.rpc_url)
            deployment = load_deployment(settings.deployments_dir, reader.chain_id())
            stats = Indexer(
                clean, reader, deployment, Artifacts.load(settings.artifacts_path)
            ).run()
            with clean() as session:
                theirs = dump_index(session)
        finally:
            engine.dispose()
        differing = [t for t in ours if ours[t] != theirs.get(t)]
        rows = sum(len(v) for v in ours.values())
        return not differing, (
            f"{rows} rows, {stats.events} events re-read; differing tables: {differing or 'none'}"
        )


def open_counts(session: Session) -> dict[str, int]:
    def count(model: Any, *where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return {
        "claims": count(Claim, Claim.status.in_([ClaimStatus.accepted, ClaimStatus.batched])),
        "outbox": count(
            ChainTransaction,
            ChainTransaction.status.in_([OutboxStatus.pending, OutboxStatus.sent]),
        ),
        "fills": count(
            MarketFill, MarketFill.status.in_([FillStatus.matched, FillStatus.settling])
        ),
        "retirements": count(Certificate, Certificate.status == CertificateStatus.pending),
        "money": count(WonTransfer, WonTransfer.status == TransferStatus.pending),
    }


def caps_held(claims: list[Claim], settings: Settings) -> tuple[bool, str]:
    daily: Counter[tuple[str, Any]] = Counter()
    yearly: Counter[tuple[str, int]] = Counter()
    for c in claims:
        daily[(c.beneficiary, c.activity_day)] += c.amount
        yearly[(c.beneficiary, c.activity_day.year)] += c.amount
    over = [k for k, v in daily.items() if v > settings.daily_cap_grams] + [
        k for k, v in yearly.items() if v > settings.yearly_cap_grams
    ]
    at_cap = sum(1 for v in daily.values() if v > settings.daily_cap_grams * 3 // 4)
    return not over, (
        f"{len(over)} past a cap; {at_cap} citizen-days above 3/4 of the daily cap "
        f"(highest {max(daily.values(), default=0)} g of {settings.daily_cap_grams})"
    )


def no_overlaps(claims: list[Claim]) -> tuple[bool, str]:
    trips: dict[str, list[Claim]] = defaultdict(list)
    for c in claims:
        if c.kind == "trip":
            trips[c.beneficiary].append(c)
    overlaps = 0
    for mine in trips.values():
        mine.sort(key=lambda c: c.activity_start)
        for before, after in itertools.pairwise(mine):
            overlaps += after.activity_start < before.activity_end
    count = sum(len(v) for v in trips.values())
    return not overlaps, f"{overlaps} overlapping among {count} credited trips"


@dataclass
class World:
    """The seeded city of the run and the operations its people make."""

    day: Day
    operator: Person
    partners: Partners
    citizens: list[Person]
    businesses: list[Person]
    planner: DayPlanner
    orders: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    planner_lock: threading.Lock = field(default_factory=threading.Lock)

    def operation(self, kind: str, n: int, rng: random.Random, chaos: Chaos) -> Callable[[], None]:
        key = f"chaos-{self.day.tag}-{n}"
        if kind in ("earn", "cap-burst", "overlap-burst"):
            person = rng.choice(self.citizens)
            days_back = rng.randrange(0, EARNING_DAYS)
            with self.planner_lock:
                activities = self._activities(kind, person, days_back, rng)
            return lambda: self._earn(chaos, kind, person, activities)
        if kind in ("sell", "buy"):
            person = rng.choice(self.citizens if kind == "sell" else self.businesses)
            price, kg = rng.randint(100, 140), rng.randint(1, 3 if kind == "buy" else 1)
            expiry = int(time.time()) + 2 * 86_400
            # Drawn once: a retry after a lost connection sends the same order under its key.
            nonce = rng.getrandbits(63)

            def place() -> None:
                outcome, order = chaos.answer(
                    kind,
                    lambda: person.call(
                        Client.place_order,
                        person.address,
                        kind,  # type: ignore[arg-type]
                        price=price,
                        quantity=kg * KG,
                        expiry=expiry,
                        nonce=nonce,
                        idempotency_key=key,
                    ),
                )
                if order is not None:
                    with self.planner_lock:
                        self.orders[person.account_id].append(int(order["id"]))
                chaos.count(kind, outcome)

            return place
        if kind == "cancel":

            def cancel() -> None:
                with self.planner_lock:
                    owners = [
                        p for p in self.citizens + self.businesses if self.orders[p.account_id]
                    ]
                    if owners:
                        person = rng.choice(owners)
                        order_id = self.orders[person.account_id].pop(0)
                if not owners:
                    chaos.count(kind, "nothing-to-cancel")
                    return
                outcome, _ = chaos.answer(kind, lambda: person.call(Client.cancel_order, order_id))
                chaos.count(kind, outcome)

            return cancel
        if kind in ("deposit", "withdrawal"):
            business = rng.choice(self.businesses)
            amount = (
                rng.randint(20_000, 100_000) if kind == "deposit" else rng.randint(5_000, 40_000)
            )
            operation = "market-deposit" if kind == "deposit" else "market-withdraw"
            body = {"account_id": business.account_id, "amount": amount, "reference": key}

            def move() -> None:
                outcome, _ = chaos.answer(
                    kind,
                    lambda: self.operator.call(
                        Client.call, operation, json=body, headers={"Idempotency-Key": key}
                    ),
                )
                chaos.count(kind, outcome)

            return move
        if kind == "retirement":
            person = rng.choice(self.citizens + self.businesses)
            grams = rng.randint(100, 1_500)

            def retire() -> None:
                outcome, _ = chaos.answer(
                    kind,
                    lambda: person.call(
                        Client.retire, grams, person.name or "someone", "chaos", idempotency_key=key
                    ),
                )
                chaos.count(kind, outcome)

            return retire
        person = rng.choice(self.citizens + self.businesses)
        read = rng.choice(
            (
                lambda: person.call(Client.statement, "CRDA"),
                lambda: person.call(Client.claims, limit=20),
                lambda: person.call(Client.my_orders, limit=20),
                lambda: person.call(Client.order_book),
            )
        )

        def look() -> None:
            outcome, _ = chaos.answer(kind, read)
            chaos.count(kind, outcome)

        return look

    def _activities(
        self, kind: str, person: Person, days_back: int, rng: random.Random
    ) -> list[Activity]:
        day_start = self.planner.day_start - days_back * 86_400
        if kind == "earn":
            at = day_start + rng.randrange(6 * 3600, 22 * 3600)
            if rng.random() < 0.5 and self.planner.merchants:
                return [self.planner.receipt(person.address, at)]
            mode = rng.choice(sorted(self.planner.by_mode))
            return [self.planner.trip(person.address, mode, at)]
        if kind == "cap-burst":
            base = day_start + rng.randrange(6 * 3600, 18 * 3600)
            return [self.planner.receipt(person.address, base + i * 600) for i in range(CAP_BURST)]
        base = day_start + rng.randrange(6 * 3600, 20 * 3600)
        modes = sorted(self.planner.by_mode)
        return [
            self.planner.trip(person.address, modes[i % len(modes)], base + i * 60)
            for i in range(OVERLAP_BURST)
        ]

    def _earn(self, chaos: Chaos, kind: str, person: Person, activities: list[Activity]) -> None:
        partners = self.partners
        signed = []
        for activity in activities:
            primary = "Trip" if activity.kind == "trip" else "Receipt"
            key = partners.keys[activity.partner.slug]
            signature = sign_typed(partners.domain, partners.types, primary, activity.evidence, key)
            signed.append((activity, signature))
        if len(signed) == 1:
            chaos.count(kind, self._submit(chaos, kind, person, *signed[0]))
            return
        start = threading.Barrier(len(signed))

        def together(item: tuple[Activity, str]) -> str:
            start.wait()
            return self._submit(chaos, kind, person, *item)

        with ThreadPoolExecutor(max_workers=len(signed)) as pool:
            for outcome in pool.map(together, signed):
                chaos.count(kind, outcome)

    def _submit(
        self, chaos: Chaos, kind: str, person: Person, activity: Activity, signature: str
    ) -> str:
        evidence = activity.evidence
        if activity.kind == "trip":
            call: Callable[[], Any] = lambda: person.call(  # noqa: E731
                Client.submit_trip, evidence, signature, activity.gps_legs_m
            )
        else:
            call = lambda: person.call(Client.submit_purchase, evidence, signature)  # noqa: E731
        outcome, _ = chaos.answer(kind, call)
        return outcome


def run_chaos(options: ChaosOptions, console: Console | None = None) -> ChaosReport:
    return Chaos(options, console or Console()).run()


def print_report(report: ChaosReport, console: Console) -> None:
    table = Table(title=f"chaos run (seed {report.seed}) in {report.seconds:.0f} s")
    table.add_column("operation")
    table.add_column("count", justify="right")
    table.add_column("outcomes")
    for kind, count in sorted(report.operations.items()):
        outcomes = ", ".join(f"{k} {v}" for k, v in report.outcomes[kind].most_common())
        table.add_row(kind, str(count), outcomes)
    table.add_row("total", str(sum(report.operations.values())), "")
    console.print(table)
    console.print(f"kills: {dict(report.kills)} (total {sum(report.kills.values())})")
    console.print(
        f"answers by status: {dict(sorted(report.statuses.items()))}; "
        f"connection errors: {report.connection_errors}"
    )
    for name, (passed, detail) in report.checks.items():
        mark = "[green]PASS[/]" if passed else "[red]FAIL[/]"
        console.print(f"  {mark} {name}: {detail}")
    for line in report.server_errors[:10] + report.undocumented[:10]:
        console.print(f"  [red]{line}[/]")
    console.print(f"figures: {json.dumps(report.figures, default=str)}")


def main(options: ChaosOptions, *, as_json: bool = False) -> bool:
    console = Console(stderr=as_json)
    report = run_chaos(options, console)
    if as_json:
        print(json.dumps(report.to_json(), default=str))
    else:
        print_report(report, console)
    return report.ok
