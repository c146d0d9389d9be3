"""Auditor queries, pagination, streamed exports and the integrity check, on a real index."""

from __future__ import annotations

import csv
import io
import json
import os
import tracemalloc

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.audit import exports, queries
from api.audit.errors import BlockNotIndexed, IndexNotStarted
from api.audit.integrity import check_integrity
from api.audit.models import Balance, Transfer
from api.audit.queries import Window
from api.audit.schemas import TransferPublic
from api.chain.gateway import ChainGateway
from api.pagination import InvalidCursor, PageParams
from tests.audit.conftest import Activity

pytestmark = [pytest.mark.chain, pytest.mark.database]


@pytest.fixture
def indexed(new_database, make_indexer, activity: Activity) -> sessionmaker[Session]:
    activity.mixed(12)
    activity.revoke(activity.p.accounts.carol.address)
    sessions = new_database()
    make_indexer(sessions).run()
    return sessions


def test_supply_at_every_block_matches_the_chain(
    indexed: sessionmaker[Session], chain: ChainGateway, deployment
) -> None:
    if os.environ.get("CRDA_TEST_DEVNET") == "anvil":
        pytest.skip("anvil keeps only the last 256 states (--prune-history 256): not every block")
    token = chain.contract("CRDAToken").functions
    with indexed() as session:
        status = queries.index_status(session)
        token_block = deployment.contracts["CRDAToken"].block_number
        assert queries.supply_at(session, token_block - 1).circulating == 0
        for block in range(token_block, status.block_number + 1):
            supply = queries.supply_at(session, block)
            assert supply.circulating == token.totalSupply().call(block_identifier=block)
            assert supply.retired == token.totalRetired().call(block_identifier=block)
        with pytest.raises(BlockNotIndexed):
            queries.supply_at(session, status.block_number + 1)
        series = queries.list_supply(session, page=PageParams(limit=1000)).items
        for point in series:
            at_time = queries.supply_at_time(session, point.block_time)
            assert at_time.circulating == token.totalSupply().call(
                block_identifier=at_time.block_number
            )
        assert queries.supply_at_time(session, series[0].block_time - 10**6).circulating == 0


def test_queries_before_the_first_run_say_so(new_database) -> None:
    sessions = new_database()
    with sessions() as session, pytest.raises(IndexNotStarted):
        queries.supply_at(session)


def test_every_page_of_every_list_adds_up_to_the_whole(indexed: sessionmaker[Session]) -> None:
    lists = [
        queries.list_transfers,
        queries.list_holders,
        queries.list_batches,
        queries.list_retirements,
        queries.list_attestations,
        queries.list_events,
        queries.list_supply,
        queries.list_identities,
    ]
    with indexed() as session:
        for list_fn in lists:
            whole = list_fn(session, page=PageParams(limit=1000)).items
            assert whole, list_fn.__name__
            paged = []
            cursor = None
            while True:
                page = list_fn(session, page=PageParams(limit=2, cursor=cursor))
                assert len(page.items) <= 2
                paged.extend(page.items)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert paged == whole, list_fn.__name__


def test_holders_come_largest_first_and_match_the_chain(
    indexed: sessionmaker[Session], chain: ChainGateway
) -> None:
    token = chain.contract("CRDAToken").functions
    with indexed() as session:
        holders = queries.list_holders(session, page=PageParams(limit=100)).items
        assert [h.balance for h in holders] == sorted((h.balance for h in holders), reverse=True)
        for holder in holders:
            assert (
                holder.balance
                == token.balanceOf(chain.w3.to_checksum_address(holder.address)).call()
            )
            assert (
                holder.retired
                == token.retiredOf(chain.w3.to_checksum_address(holder.address)).call()
            )
        assert queries.holder_count(session) == len(holders)


def test_filters_by_address_block_and_time(indexed: sessionmaker[Session], accounts) -> None:
    alice = accounts.alice.address.lower()
    with indexed() as session:
        transfers = queries.list_transfers(session, page=PageParams(limit=1000)).items
        mine = queries.list_transfers(session, address=alice, page=PageParams(limit=1000)).items
        assert mine == [t for t in transfers if alice in (t.sender, t.recipient)]
        middle = transfers[len(transfers) // 2]
        later = queries.list_transfers(
            session, window=Window(from_time=middle.block_time), page=PageParams(limit=1000)
        ).items
        assert later == [t for t in transfers if t.block_time >= middle.block_time]
        upto = queries.list_transfers(
            session, window=Window(to_block=middle.block_number), page=PageParams(limit=1000)
        ).items
        assert upto == [t for t in transfers if t.block_number <= middle.block_number]


def test_batches_carry_roots_and_claim_ids(
    indexed: sessionmaker[Session], chain: ChainGateway
) -> None:
    issuance = chain.contract("Issuance").functions
    with indexed() as session:
        for batch in queries.list_batches(session).items:
            on_chain = issuance.batchOf(bytes.fromhex(batch.batch_id[2:])).call()
            assert "0x" + on_chain[0].hex() == batch.merkle_root
            assert on_chain[2] == batch.claim_count
            claims = queries.list_batch_claims(session, batch.batch_id).items
            assert [c.position for c in claims] == list(range(batch.claim_count))
            for claim in claims:
                assert batch.batch_id in [
                    c.batch_id for c in queries.find_claim(session, claim.claim_id)
                ]
        retirement = queries.list_retirements(session).items[0]
        assert queries.get_retirement(session, retirement.certificate_id) == retirement
        assert queries.get_identity(session, retirement.holder) is not None


def test_a_cursor_of_another_list_or_a_forged_one_is_refused(
    indexed: sessionmaker[Session],
) -> None:
    with indexed() as session:
        cursor = queries.list_transfers(session, page=PageParams(limit=1)).next_cursor
        assert cursor
        with pytest.raises(InvalidCursor):
            queries.list_batches(session, page=PageParams(cursor=cursor))
        with pytest.raises(InvalidCursor):
            queries.list_transfers(session, page=PageParams(cursor="not-a-cursor"))
        with pytest.raises(InvalidCursor):
            PageParams(limit=0)


def test_csv_and_json_exports_stream_the_same_rows_as_the_list(
    indexed: sessionmaker[Session],
) -> None:
    with indexed() as session:
        whole = queries.list_transfers(session, page=PageParams(limit=1000)).items
    chunks = list(exports.export_csv(indexed, queries.list_transfers, page_size=3))
    assert len(chunks) >= 1
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert [TransferPublic.model_validate(r) for r in rows] == whole
    body = "".join(exports.export_json(indexed, queries.list_transfers, page_size=3))
    assert [TransferPublic.model_validate(r) for r in json.loads(body)] == whole
    # Amounts are exact decimal strings in JSON.
    assert all(isinstance(r["amount"], str) for r in json.loads(body))


def test_an_export_holds_one_page_at_a_time(new_database) -> None:
    """Streaming a long list keeps memory flat: a chunk is produced before the list is read."""
    sessions = new_database()
    with sessions() as session, session.begin():
        session.execute(
            Transfer.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "block_number": n // 10,
                    "log_index": n % 10,
                    "tx_hash": f"0x{n:064x}",
                    "block_time": n,
                    "sender": "0x" + "00" * 20,
                    "recipient": f"0x{n:040x}",
                    "amount": 2**255 + n,
                }
                for n in range(20_000)
            ],
        )
    stream = exports.export_csv(sessions, queries.list_transfers, page_size=500)
    tracemalloc.start()
    first = next(stream)
    rows = first.count("\n")
    for chunk in stream:
        rows += chunk.count("\n")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rows == 20_001  # header + rows
    assert peak < 8_000_000, peak  # far below 20,000 rows held at once
    assert str(2**255) in first


def test_integrity_check_passes_on_a_clean_index(
    indexed: sessionmaker[Session], chain: ChainGateway
) -> None:
    with indexed() as session:
        report = check_integrity(session, chain, on_chain_balances=True)
    assert report.ok, report
    assert {c.name for c in report.checks} >= {"total-supply", "total-retired"}


def test_integrity_check_catches_a_tampered_transfer(
    indexed: sessionmaker[Session], chain: ChainGateway
) -> None:
    with indexed() as session, session.begin():
        row = session.scalars(select(Transfer).where(Transfer.amount > 0)).first()
        assert row is not None
        session.execute(
            update(Transfer)
            .where(Transfer.block_number == row.block_number, Transfer.log_index == row.log_index)
            .values(amount=row.amount + 1)
        )
    with indexed() as session:
        report = check_integrity(session, chain)
    assert not report.ok
    failed = {c.name for c in report.checks if not c.ok}
    assert failed & {"total-supply", "supply-series-issued", "supply-series-burnt"}
    assert report.account_differences


def test_integrity_check_catches_a_tampered_balance(
    indexed: sessionmaker[Session], chain: ChainGateway, accounts
) -> None:
    bob = accounts.bob.address.lower()
    with indexed() as session, session.begin():
        session.execute(update(Balance).where(Balance.address == bob).values(balance=10**30))
    with indexed() as session:
        report = check_integrity(session, chain, on_chain_balances=True)
    assert not report.ok
    assert {c.name for c in report.checks if not c.ok} == {"balances-sum"}
    (difference,) = report.account_differences
    assert difference.address == bob
    assert difference.stored_balance == 10**30
    assert difference.chain_balance == difference.derived_balance


def test_role_changes_and_pauses_are_indexed(
    new_database, make_indexer, activity: Activity
) -> None:
    p = activity.p
    p.send(p.token.functions.pause(), p.accounts.operator)
    sessions = new_database()
    make_indexer(sessions).run()
    with sessions() as session:
        assert queries.is_paused(session)
        paused = queries.list_events(session, contract="CRDAToken", event="Paused").items
        assert len(paused) == 1 and paused[0].args["account"] == p.accounts.operator.address.lower()
        grants = queries.list_events(session, event="RoleGranted", page=PageParams(limit=100))
        assert {e.contract for e in grants.items} >= {"CRDAToken", "Issuance", "IdentityRegistry"}
    p.send(p.token.functions.unpause(), p.accounts.operator)
    make_indexer(sessions).run()
    with sessions() as session:
        assert not queries.is_paused(session)


def test_the_indexer_stays_confirmations_behind_the_head(
    new_database, make_indexer, activity: Activity, chain: ChainGateway
) -> None:
    activity.mixed(4)
    sessions = new_database()
    make_indexer(sessions, confirmations=3).run()
    with sessions() as session:
        assert queries.index_status(session).block_number == chain.w3.eth.block_number - 3
