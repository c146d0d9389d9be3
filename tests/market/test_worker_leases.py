"""Two platform workers on one database: each deposit is minted once, a dead leader is replaced.

Each worker has its own engine and gateway (database nonces), as two `crda worker` processes
have; they run at once, released together. The ``platform-worker`` lease lets one work while
the other stands by; killing the leader (it stops renewing, without a clean release) hands the
work to the standby once the lease expires, and the old leader can no longer commit a step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from api.chain.addresses import ZERO_ADDRESS
from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.leases import LoopLease
from api.outbox.models import ChainTransaction, OutboxStatus
from api.outbox.runner import PlatformWorker
from api.settings import Settings
from api.tasks import WORKER_LEASE, make_worker
from tests.market.conftest import Harness


class WorkerProcess:
    """A platform worker with its own engine and gateway, on a thread that can be 'killed'."""

    def __init__(self, name: str, settings: Settings, start: threading.Barrier) -> None:
        self.engine = make_engine(settings.database_url)
        self.sessions = make_session_factory(self.engine)
        gateway = ChainGateway.connect(settings, sessions=self.sessions)
        self.worker: PlatformWorker = make_worker(settings, self.sessions, gateway)
        assert self.worker.lease is not None
        self.worker.lease.holder = name  # two "processes" of one test process
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(settings, start), daemon=True)
        self.thread.start()

    def _run(self, settings: Settings, start: threading.Barrier) -> None:
        start.wait()
        self.worker.run_forever(self.stop, settings.worker_interval)

    def kill(self) -> None:
        """Stop renewing the lease, without giving it up (what SIGKILL leaves behind)."""
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def two_workers(
    harness: Harness, market_settings: Settings
) -> Iterator[Callable[[], dict[str, WorkerProcess]]]:
    settings = market_settings.model_copy(update={"lease_ttl": 2.0, "worker_interval": 0.05})
    started: dict[str, WorkerProcess] = {}

    def start() -> dict[str, WorkerProcess]:
        barrier = threading.Barrier(2)
        started.update({name: WorkerProcess(name, settings, barrier) for name in ("A", "B")})
        return started

    yield start
    for process in started.values():
        process.kill()
        process.engine.dispose()
    with harness.sessions() as session, session.begin():
        session.execute(delete(LoopLease))


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def deposits_open(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        rows = session.scalars(
            select(ChainTransaction.status).where(ChainTransaction.kind == "market.deposit")
        )
        return sum(1 for status in rows if status != OutboxStatus.confirmed)


def lease_holder(sessions: sessionmaker[Session]) -> str:
    with sessions() as session:
        lease = session.get(LoopLease, WORKER_LEASE)
        assert lease is not None
        return lease.holder


def mints(h: Harness, to: str, from_block: int) -> list[int]:
    events = h.chain.events(
        "SettlementToken",
        "Transfer",
        from_block=from_block,
        argument_filters={"from": ZERO_ADDRESS, "to": to},
    )
    return [int(e["args"]["value"]) for e in events]


def test_two_workers_mint_each_deposit_once_and_a_dead_leaders_lease_is_taken_over(
    harness: Harness, two_workers: Callable[[], dict[str, WorkerProcess]]
) -> None:
    h, bob = harness, harness.accounts.bob.address
    h.attest(bob)
    first_block = h.chain.block_number() + 1
    amounts = [10_000 + i for i in range(8)]
    for amount in amounts:
        h.deposit(bob, amount, drain=False)

    workers = two_workers()
    wait_until(lambda: deposits_open(h.sessions) == 0, "the first deposits")
    assert sorted(mints(h, bob, first_block)) == amounts
    leader = lease_holder(h.sessions)
    standby = "B" if leader == "A" else "A"

    # The leader dies holding the lease: the standby takes over once it expires.
    workers[leader].kill()
    more = [20_000 + i for i in range(4)]
    for amount in more:
        h.deposit(bob, amount, drain=False)
    wait_until(lambda: deposits_open(h.sessions) == 0, "the standby to take over")
    assert lease_holder(h.sessions) == standby
    assert sorted(mints(h, bob, first_block)) == sorted(amounts + more)
    assert h.won(bob) == sum(amounts + more)

    # The old leader, back from its pause, can neither start a round nor commit a step.
    workers[standby].kill()
    h.deposit(bob, 30_000, drain=False)
    old = workers[leader].worker
    assert old.run_once() == 0
    assert old.outbox.run_once() == 0
    assert deposits_open(h.sessions) == 1
    workers[standby].worker.drain()  # the holder finishes it
    assert deposits_open(h.sessions) == 0
    assert h.won(bob) == sum(amounts + more) + 30_000
    with h.sessions() as session:
        rows = list(
            session.scalars(
                select(ChainTransaction).where(ChainTransaction.kind == "market.deposit")
            )
        )
    assert [row.attempts for row in rows] == [1] * len(rows)
    report = h.reconcile()
    assert report.ok, report.to_json()
