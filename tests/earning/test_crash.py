"""Crash tests: a real worker process is SIGKILLed at each step of issuance; a restarted
``crda worker`` finishes the job. Afterwards the chain's new supply equals the sum of the
claims marked issued, every claim is issued, and no claim id appears in two batches on chain.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.chain.gateway import ChainGateway
from api.earning import service
from api.earning.models import Claim, ClaimStatus
from api.earning.service import EarningContext
from api.outbox.models import ChainTransaction, OutboxStatus
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import Accounts, full_on_postgres
from tests.earning.conftest import Partners, total_supply
from tests.earning.crash_worker import STEPS

pytestmark = pytest.mark.chain


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "CRDA_ENVIRONMENT": "test",
        "CRDA_DATABASE_URL": settings.database_url,
        "CRDA_RPC_URL": settings.rpc_url,
        "CRDA_DEPLOYMENTS_DIR": str(settings.deployments_dir),
        "CRDA_ARTIFACTS_PATH": str(settings.artifacts_path),
        "CRDA_ISSUANCE_BATCH_MAX_WAIT": "0",
        "CRDA_WORKER_INTERVAL": "0.05",
        "CRDA_RECEIPT_POLL_INTERVAL": "0.01",
    }


def submit(sessions, ctx: EarningContext, partners: Partners, accounts: Accounts) -> int:
    total = 0
    with sessions() as session:
        for who in (accounts.alice.address, accounts.bob.address):
            for signed in (partners.receipt(who), partners.tap_trip(who)):
                evidence, signature = signed
                submit_fn = (
                    service.submit_purchase
                    if hasattr(evidence, "receiptId")
                    else service.submit_trip
                )
                claim = submit_fn(
                    session,
                    ctx,
                    citizen=who,
                    account_id=None,
                    evidence=evidence,
                    signature=signature,
                )
                total += claim.amount
    return total


def issued(sessions: sessionmaker[Session]) -> tuple[int, set[str]]:
    with sessions() as session:
        amount = session.scalar(
            select(func.coalesce(func.sum(Claim.amount), 0)).where(
                Claim.status == ClaimStatus.issued
            )
        )
        return int(amount), set(session.scalars(select(Claim.status)))


def claim_ids_on_chain(chain: ChainGateway, from_block: int) -> list[str]:
    issuance = chain.contract("Issuance")
    logs = issuance.events.BatchIssued().get_logs(from_block=from_block)
    return ["0x" + bytes(c).hex() for log in logs for c in log["args"]["claimIds"]]


# Every kill point on PostgreSQL; on SQLite too, the one that leaves a transaction sent and
# unrecorded (the others differ from it by where the worker stops, not by database).
@pytest.mark.parametrize("step", full_on_postgres(STEPS, sqlite_too=["after-send"]))
def test_a_worker_killed_at_any_step_is_finished_by_the_next_one(
    step: str,
    sessions: sessionmaker[Session],
    ctx: EarningContext,
    partners: Partners,
    verified: Accounts,
    earning_settings: Settings,
    chain: ChainGateway,
    tmp_path: Path,
) -> None:
    expected = submit(sessions, ctx, partners, verified)
    supply, start_block = total_supply(chain), chain.w3.eth.block_number
    env = worker_env(earning_settings)

    with open(tmp_path / "crashed.log", "wb") as log:
        crashed = subprocess.run(
            [sys.executable, "-m", "tests.earning.crash_worker", step],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    assert crashed.returncode == -signal.SIGKILL, (tmp_path / "crashed.log").read_text()[-3000:]
    # The crash left the work unfinished.
    assert issued(sessions)[0] == 0

    with open(tmp_path / "restarted.log", "wb") as log:
        restarted = subprocess.run(
            [sys.executable, "-m", "api.cli", "worker", "--once"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    assert restarted.returncode == 0, (tmp_path / "restarted.log").read_text()[-3000:]

    amount, statuses = issued(sessions)
    assert statuses == {ClaimStatus.issued}
    assert amount == expected
    assert total_supply(chain) - supply == expected
    ids = claim_ids_on_chain(chain, start_block + 1)
    assert len(ids) == len(set(ids)) == 4
    with sessions() as session:
        rows = list(session.scalars(select(ChainTransaction)))
        # One batch per credit class (the receipts' and the taps'), each sent once.
        assert [r.status for r in rows] == [OutboxStatus.confirmed] * 2


def test_a_worker_killed_from_outside_at_an_observed_state_is_finished(
    sessions: sessionmaker[Session],
    ctx: EarningContext,
    partners: Partners,
    verified: Accounts,
    earning_settings: Settings,
    chain: ChainGateway,
    tmp_path: Path,
) -> None:
    """Kill -9 from the test the moment the database shows the transaction signed."""
    expected = submit(sessions, ctx, partners, verified)
    supply = total_supply(chain)
    env = worker_env(earning_settings)
    log = open(tmp_path / "worker.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with sessions() as session:
                status = session.scalar(select(ChainTransaction.status))
            if status is not None and status != OutboxStatus.pending:
                break
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    subprocess.run(
        [sys.executable, "-m", "api.cli", "worker", "--once"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    amount, statuses = issued(sessions)
    assert (amount, statuses) == (expected, {ClaimStatus.issued})
    assert total_supply(chain) - supply == expected
