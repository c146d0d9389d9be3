"""The indexer against the real devnet and database: restarts, crashes, reorganisations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from api.audit.indexer import StepResult
from api.audit.models import Balance, Checkpoint, Event, SupplyPoint, Transfer
from api.chain.gateway import ChainGateway
from api.leases import Lease, LoopLease
from tests.audit.conftest import Activity, dump_index, revert, rpc, snapshot
from tests.conftest import full_on_postgres

pytestmark = [pytest.mark.chain, pytest.mark.database]


def test_index_reads_every_kind_of_event(new_database, make_indexer, activity: Activity) -> None:
    a = activity.p.accounts
    activity.mixed(8)
    activity.revoke(a.carol.address)
    sessions = new_database()
    stats = make_indexer(sessions).run()
    assert stats.events > 0
    with sessions() as session:
        names = set(session.scalars(select(Event.event).distinct()))
        assert {"Attested", "Revoked", "BatchIssued", "Transfer", "Retired", "RoleGranted"} <= names
        balances = {b.address: b.balance for b in session.scalars(select(Balance))}
        for account in (a.alice, a.bob, a.carol):
            assert balances[account.address.lower()] == activity.p.balance(account.address)
        point = session.scalars(
            select(SupplyPoint).order_by(SupplyPoint.block_number.desc())
        ).first()
        assert point is not None
        token = activity.p.token.functions
        assert point.minted - point.burnt == token.totalSupply().call()
        assert point.retired == token.totalRetired().call()


def test_index_after_restarts_equals_clean_index(
    new_database, make_indexer, activity: Activity
) -> None:
    sessions = new_database()
    activity.mixed(5)
    # Small steps, a new indexer (a restart) every few steps, new blocks in between.
    for round_ in range(4):
        indexer = make_indexer(sessions, block_range=2)
        for _ in range(3):
            indexer.step()
        activity.mixed(3, salt=round_)
    make_indexer(sessions).run()
    clean = new_database()
    make_indexer(clean).run()
    assert dump_index(sessions) == dump_index(clean)


def test_two_leased_indexers_index_once_and_a_dead_holders_lease_is_taken_over(
    new_database, make_indexer, activity: Activity
) -> None:
    """Two `crda index` processes on one database: the lease's holder steps, the other rests;
    once the holder stops renewing (killed), the other takes over and a late step of the old
    holder commits nothing."""
    sessions = new_database()
    activity.mixed(4)
    first = make_indexer(sessions, block_range=2, lease=Lease(sessions, "indexer", holder="A"))
    second = make_indexer(sessions, block_range=2, lease=Lease(sessions, "indexer", holder="B"))
    assert first.step().to_block > 0
    assert second.step() == StepResult(caught_up=True)  # standing by
    # A dies: its lease runs out; B takes over and catches up.
    with sessions() as session, session.begin():
        session.execute(update(LoopLease).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC)))
    second.run()
    assert first.step() == StepResult(caught_up=True)
    activity.mixed(2)
    # A late step of A (its lease lost while it read) is rolled back by its fence.
    assert first.lease is not None
    first.lease.acquire = lambda: True  # type: ignore[method-assign]
    with sessions() as session:
        before = session.scalar(select(Checkpoint.block_number))
    assert first.step() == StepResult(caught_up=True)
    with sessions() as session:
        assert session.scalar(select(Checkpoint.block_number)) == before
    second.run()
    clean = new_database()
    make_indexer(clean).run()
    assert dump_index(sessions) == dump_index(clean)


def test_a_crash_inside_a_step_commits_nothing(
    new_database, make_indexer, activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity.mixed(6)
    sessions = new_database()
    indexer = make_indexer(sessions)
    before = dump_index(sessions)

    def crash(*_args: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr("api.audit.indexer.projection._extend_supply", crash)
    with pytest.raises(RuntimeError):
        indexer.step()
    after = dump_index(sessions)
    assert {k: v for k, v in after.items() if k != "audit_checkpoints"} == {
        k: v for k, v in before.items() if k != "audit_checkpoints"
    }
    monkeypatch.undo()
    make_indexer(sessions).run()
    clean = new_database()
    make_indexer(clean).run()
    assert dump_index(sessions) == dump_index(clean)


def test_reading_a_block_twice_never_counts_it_twice(
    new_database, make_indexer, activity: Activity
) -> None:
    activity.mixed(4)
    sessions = new_database()
    make_indexer(sessions).run()
    indexed = dump_index(sessions)
    with sessions() as session, session.begin():
        checkpoint = session.scalars(select(Checkpoint)).one()
        # Pretend the checkpoint was lost a few blocks back (rows kept): the re-read must fail.
        first = session.scalars(
            select(Transfer.block_number).order_by(Transfer.block_number)
        ).first()
        block_hash = activity.p.chain.w3.eth.get_block(first - 1)["hash"].to_0x_hex()
        session.execute(
            update(Checkpoint)
            .where(Checkpoint.id == checkpoint.id)
            .values(block_number=first - 1, block_hash=block_hash)
        )
    with pytest.raises(IntegrityError):
        make_indexer(sessions).step()
    after = dump_index(sessions)
    assert after["audit_transfers"] == indexed["audit_transfers"]
    assert after["audit_balances"] == indexed["audit_balances"]


# Every depth on PostgreSQL; on SQLite too, a shorter branch and a longer one (the depths
# differ from one another by how many blocks roll back, not by database).
@pytest.mark.parametrize("depth", full_on_postgres(range(1, 11), sqlite_too=[1, 2, 10]))
def test_reorganisation_equals_clean_index(
    depth: int, new_database, make_indexer, activity: Activity, chain: ChainGateway
) -> None:
    activity.mixed(3)
    sessions = new_database()
    make_indexer(sessions).run()
    fork_point = snapshot(chain)
    activity.mixed(depth)
    indexer = make_indexer(sessions)
    indexer.run()
    revert(chain, fork_point)
    # A different branch: longer for even depths, shorter for odd ones.
    activity.mixed(depth + 1 if depth % 2 == 0 else max(1, depth - 1), salt=depth + 1)
    stats = indexer.run()
    assert stats.reorgs >= 1
    clean = new_database()
    make_indexer(clean).run()
    assert dump_index(sessions) == dump_index(clean)
    with sessions() as session:
        assert session.scalars(select(Checkpoint.reorgs)).one() >= 1


def test_a_range_read_ahead_of_a_reorganisation_is_read_again(
    new_database, make_indexer, activity: Activity, chain: ChainGateway
) -> None:
    """The next range is read while a step writes; a chain replaced meanwhile is not indexed."""
    activity.mixed(2)
    fork_block = chain.w3.eth.block_number
    fork_point = snapshot(chain)
    rpc(chain, "evm_mine")  # read ahead: no events, where the other branch has some
    activity.mixed(3)
    sessions = new_database()
    indexer = make_indexer(sessions, block_range=1)
    while indexer.step().to_block < fork_block:
        pass
    ahead = indexer._ahead
    assert ahead is not None and ahead.first == fork_block + 1
    ahead.result()  # the branch about to be replaced has been read
    revert(chain, fork_point)
    activity.mixed(3, salt=2)
    indexer.run()
    clean = new_database()
    make_indexer(clean).run()
    assert dump_index(sessions) == dump_index(clean)


def test_two_indexers_on_one_database_never_double_count(
    new_database, make_indexer, activity: Activity, settings
) -> None:
    """Two processes indexing one database (API thread and `crda index`): one wins each step."""
    import time

    from api.audit.indexer import IndexerThread

    sessions = new_database()
    fast = settings.model_copy(update={"indexer_poll_interval": 0.02})
    threads = [
        IndexerThread(fast, sessions, factory=lambda: make_indexer(sessions, block_range=3))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    try:
        activity.mixed(12)
        head = activity.p.chain.w3.eth.block_number
        deadline = time.monotonic() + 60
        at = None
        while time.monotonic() < deadline:
            with sessions() as session:
                at = session.scalar(select(Checkpoint.block_number))
            if at == head:
                break
            time.sleep(0.05)
        assert at == head, [t.last_error for t in threads]
    finally:
        for thread in threads:
            thread.stop()
    clean = new_database()
    make_indexer(clean).run()
    assert dump_index(sessions) == dump_index(clean)


def test_a_replaced_chain_is_indexed_again_from_the_deployment(
    new_database, settings, compiled, artifacts, accounts, tmp_path
) -> None:
    """A devnet restarted under the index (same addresses, other history): no stored block is
    still on chain, so the index rolls back to before the deployment and reads it all again."""
    import os

    from api.audit.indexer import ChainReader, Indexer
    from api.chain.deploy import ensure_deployed
    from api.chain.devnet import free_port, start_devnet
    from tests.contracts.conftest import Platform

    kind = os.environ.get("CRDA_TEST_DEVNET", "hardhat")
    port = free_port()
    sessions = new_database()

    def run_devnet(label: str, blocks: int, salt: int) -> tuple[Indexer, object]:
        node = start_devnet(kind, port=port, log_path=tmp_path / f"{label}.log")
        node_settings = settings.model_copy(
            update={"rpc_url": node.rpc_url, "deployments_dir": tmp_path / label}
        )
        deployment, _new = ensure_deployed(
            node_settings, artifacts, digest=compiled["digest"], compiler=compiled["compiler"]
        )
        gateway = ChainGateway.connect(node_settings)
        platform = Platform(
            chain=gateway,
            accounts=accounts,
            registry=gateway.contract("IdentityRegistry"),
            token=gateway.contract("CRDAToken"),
            issuance=gateway.contract("Issuance"),
        )
        for account in (accounts.alice, accounts.bob, accounts.carol):
            platform.attest(account.address)
        work = Activity(platform)
        work.issue(accounts.alice.address, accounts.bob.address, amount=5_000 + salt)
        work.mixed(blocks, salt=salt)
        indexer = Indexer(sessions, ChainReader(node.rpc_url), deployment, artifacts)
        return indexer, node

    first, node = run_devnet("first", 6, 0)
    first.run()
    node.stop()  # type: ignore[attr-defined]
    second, node = run_devnet("second", 3, 5)
    try:
        # Same addresses (the premise: the index's deployment still names them); the deploying
        # transactions may differ (fees are read from the node at the time), so not compared.
        assert {n: c.address for n, c in second.deployment.contracts.items()} == {
            n: c.address for n, c in first.deployment.contracts.items()
        }
        stats = second.run()
        assert stats.reorgs == 1
        clean = new_database()
        Indexer(clean, second.reader, second.deployment, artifacts).run()
        assert dump_index(sessions) == dump_index(clean)
    finally:
        node.stop()  # type: ignore[attr-defined]
