"""Issuance: accepted claims are batched, minted once, marked issued, and provable on chain."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.chain.gateway import ChainGateway, NonceManager
from api.earning import service
from api.earning.issuance import (
    Batcher,
    ClaimProof,
    batch_id_of,
    check_claim_on_chain,
    claim_proof,
    form_batch,
    requeue_held_claims,
    verify_on_chain,
)
from api.earning.models import BatchStatus, Claim, ClaimStatus, IssuanceBatch
from api.earning.service import EarningContext
from api.errors import Problem
from api.market import ledger
from api.market.models import AccountKind, Asset
from api.outbox.models import ChainTransaction, OutboxStatus
from api.outbox.runner import PlatformWorker
from api.settings import Settings
from api.tasks import make_worker
from tests.conftest import Accounts
from tests.contracts.conftest import Platform
from tests.earning.conftest import Partners, balance, total_supply

pytestmark = pytest.mark.chain


def submit_some(
    sessions: sessionmaker[Session],
    ctx: EarningContext,
    partners: Partners,
    accounts: Accounts,
    *,
    trips: bool = False,
) -> list[Claim]:
    """Two claims each for Alice and Bob: e-receipts (one credit class, so one batch), or with
    ``trips`` an e-receipt and a subway trip each (two classes)."""
    claims = []
    with sessions() as session:
        for who in (accounts.alice.address, accounts.bob.address):
            evidence, signature = partners.receipt(who)
            claims.append(
                service.submit_purchase(
                    session,
                    ctx,
                    citizen=who,
                    account_id=None,
                    evidence=evidence,
                    signature=signature,
                )
            )
            if not trips:
                evidence, signature = partners.receipt(who)
                claims.append(
                    service.submit_purchase(
                        session,
                        ctx,
                        citizen=who,
                        account_id=None,
                        evidence=evidence,
                        signature=signature,
                    )
                )
                continue
            evidence, signature = partners.tap_trip(who)
            claims.append(
                service.submit_trip(
                    session,
                    ctx,
                    citizen=who,
                    account_id=None,
                    evidence=evidence,
                    signature=signature,
                    gps_legs_m=[400],
                )
            )
    return claims


def worker(settings: Settings, sessions: sessionmaker[Session], chain: ChainGateway):
    chain.nonces = NonceManager(chain.w3)
    return make_worker(settings, sessions, chain)


def issued_sum(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(Claim.amount), 0)).where(
                    Claim.status == ClaimStatus.issued
                )
            )
        )


def test_accepted_claims_are_minted_in_one_batch_and_marked_issued(
    sessions, ctx, partners: Partners, verified: Accounts, earning_settings: Settings, chain
) -> None:
    claims = submit_some(sessions, ctx, partners, verified)
    before = total_supply(chain)
    loop = worker(earning_settings, sessions, chain)
    assert isinstance(loop, PlatformWorker)
    loop.drain()

    with sessions() as session:
        batches = list(session.scalars(select(IssuanceBatch)))
        assert len(batches) == 1
        batch = batches[0]
        assert batch.status == BatchStatus.issued and batch.tx_hash and batch.block_number
        stored = list(session.scalars(select(Claim).order_by(Claim.id)))
        assert {c.status for c in stored} == {ClaimStatus.issued}
        assert (
            batch.batch_id
            == "0x" + batch_id_of([bytes.fromhex(c.claim_id[2:]) for c in stored], 0).hex()
        )
        row = session.scalar(
            select(ChainTransaction).where(ChainTransaction.key == batch.outbox_key)
        )
        assert row is not None and row.status == OutboxStatus.confirmed
    alice_total = sum(c.amount for c in claims if c.beneficiary == verified.alice.address)
    assert balance(chain, verified.alice.address) == alice_total
    assert total_supply(chain) - before == sum(c.amount for c in claims) == issued_sum(sessions)
    on_chain = (
        chain.contract("Issuance").functions.batchOf(bytes.fromhex(batch.batch_id[2:])).call()
    )
    assert on_chain[2] == 4 and on_chain[3] == batch.total_amount
    # The trading ledger mirrors the mint: each holder's credits are theirs to sell, to the gram.
    with sessions() as session:
        for holder in (verified.alice.address, verified.bob.address):
            mine = sum(c.amount for c in claims if c.beneficiary == holder)
            assert ledger.balance(session, holder, Asset.credits, AccountKind.available) == mine
            assert ledger.holdings(session, holder, Asset.credits) == balance(chain, holder)


def test_each_batch_holds_one_credit_class_and_vintage_and_records_them(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    """Receipts and subway trips, interleaved: one batch per class, oldest class first."""
    claims = submit_some(sessions, ctx, partners, verified, trips=True)
    formed = []
    with sessions() as session:
        while (batch := form_batch(session, max_size=10, max_wait=0)) is not None:
            formed.append((batch.id, batch.credit_class, batch.vintage, batch.claim_count))
    version, year = ctx.settings.methodology_version, claims[0].activity_day.year
    assert [f[1:] for f in formed] == [
        (f"purchase@{version}", year, 2),
        (f"trip:subway@{version}", year, 2),
    ]
    first, second = (f[0] for f in formed)
    with sessions() as session:
        batched = session.execute(select(Claim.kind, Claim.batch_id)).all()
    assert {(kind, batch) for kind, batch in batched} == {
        ("purchase", first),
        ("trip", second),
    }


def test_every_claims_merkle_proof_verifies_on_chain_and_forgeries_do_not(
    sessions, ctx, partners: Partners, verified: Accounts, earning_settings: Settings, chain
) -> None:
    claims = submit_some(sessions, ctx, partners, verified)
    with sessions() as session, pytest.raises(Problem) as info:
        claim_proof(session, claims[0].claim_id)
    assert info.value.type == "/problems/claim-not-issued"
    worker(earning_settings, sessions, chain).drain()

    with sessions() as session:
        for claim in claims:
            proof, ok = check_claim_on_chain(session, chain, claim.claim_id, claim.beneficiary)
            assert ok, claim.claim_id
            assert proof.tx_hash is not None
        proof = claim_proof(session, claims[0].claim_id)
        # Another citizen cannot read it.
        with pytest.raises(Problem) as other:
            claim_proof(session, claims[0].claim_id, verified.carol.address)
        assert other.value.status == 404

    def forged(**changes) -> ClaimProof:
        record = {**proof.record, **changes.pop("record", {})}
        return ClaimProof(**{**proof.__dict__, "record": record, **changes})

    assert not verify_on_chain(chain, forged(record={"amount": proof.record["amount"] + 1}))
    assert not verify_on_chain(chain, forged(record={"beneficiary": verified.mallory.address}))
    assert not verify_on_chain(chain, forged(proof=["0x" + keccak(text="x").hex()]))
    assert not verify_on_chain(chain, forged(batch_id="0x" + keccak(text="other").hex()))


def test_the_batcher_waits_for_size_or_time(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    submit_some(sessions, ctx, partners, verified)
    with sessions() as session:
        assert form_batch(session, max_size=10, max_wait=3600) is None  # 4 < 10, young
    with sessions() as session:
        batch = form_batch(session, max_size=3, max_wait=3600)  # size reached
        assert batch is not None and batch.claim_count == 3
    with sessions() as session:
        assert form_batch(session, max_size=3, max_wait=3600) is None
        last = form_batch(session, max_size=3, max_wait=0)  # waited long enough
        assert last is not None and last.claim_count == 1
    with sessions() as session:
        keys = session.scalars(select(ChainTransaction.key)).all()
        assert len(keys) == 2 and all(k.startswith("issuance.batch:0x") for k in keys)


def test_two_batchers_never_put_a_claim_in_two_batches(
    sessions, ctx, partners: Partners, verified: Accounts, earning_settings: Settings
) -> None:
    submit_some(sessions, ctx, partners, verified)
    first = Batcher(sessions, earning_settings)
    second = Batcher(sessions, earning_settings)
    assert first.run_once() + second.run_once() == 1
    with sessions() as session:
        assert session.scalar(select(func.count(IssuanceBatch.id))) == 1


def test_a_batch_the_chain_refuses_holds_its_claims_until_requeued(
    sessions,
    ctx,
    partners: Partners,
    verified: Accounts,
    earning_settings: Settings,
    chain,
    platform: Platform,
) -> None:
    submit_some(sessions, ctx, partners, verified)
    platform.send(platform.token.functions.pause(), verified.operator)
    worker(earning_settings, sessions, chain).drain()
    with sessions() as session:
        batch = session.scalars(select(IssuanceBatch)).one()
        assert (batch.status, batch.error_name) == (BatchStatus.failed, "EnforcedPause")
        assert set(session.scalars(select(Claim.status))) == {ClaimStatus.held}
        assert requeue_held_claims(session) == 4
    platform.send(platform.token.functions.unpause(), verified.operator)
    before = total_supply(chain)
    worker(earning_settings, sessions, chain).drain()
    with sessions() as session:
        statuses = [
            b.status for b in session.scalars(select(IssuanceBatch).order_by(IssuanceBatch.id))
        ]
        assert statuses == [BatchStatus.failed, BatchStatus.issued]
    assert total_supply(chain) - before == issued_sum(sessions)


def test_a_batch_already_on_chain_is_confirmed_without_minting_again(
    sessions, ctx, partners: Partners, verified: Accounts, earning_settings: Settings, chain
) -> None:
    submit_some(sessions, ctx, partners, verified)
    with sessions() as session:
        batch = form_batch(session, max_size=100, max_wait=0)
        assert batch is not None
        row = session.scalar(
            select(ChainTransaction).where(ChainTransaction.key == batch.outbox_key)
        )
        assert row is not None
        args = row.args
    # The same batch reaches the chain by another route (a restored backup, a second outbox row).
    issuance = chain.contract("Issuance")
    chain.nonces = NonceManager(chain.w3)
    mined = chain.transact(issuance.functions.issueBatch(*args), verified.issuer)
    supply = total_supply(chain)
    worker(earning_settings, sessions, chain).drain()
    assert total_supply(chain) == supply
    with sessions() as session:
        assert set(session.scalars(select(Claim.status))) == {ClaimStatus.issued}
        row = session.scalar(select(ChainTransaction))
        assert row is not None and row.error_name == "IssuanceBatchAlreadyIssued"
        some_claim = session.scalars(select(Claim)).first()
        assert some_claim is not None
        proof, ok = check_claim_on_chain(session, chain, some_claim.claim_id)
        assert ok and proof.tx_hash == mined["transactionHash"].to_0x_hex()


def test_credits_of_a_holder_revoked_after_acceptance_are_held_until_reverified(
    sessions,
    ctx,
    partners: Partners,
    verified: Accounts,
    earning_settings: Settings,
    chain,
    platform: Platform,
) -> None:
    claims = submit_some(sessions, ctx, partners, verified)  # accepted while both are verified
    bob = verified.bob.address
    platform.send(platform.registry.functions.revoke(bob), verified.verifier)
    worker(earning_settings, sessions, chain).drain()
    with sessions() as session:
        status = dict(session.execute(select(Claim.claim_id, Claim.status)).all())
    for claim in claims:
        expected = ClaimStatus.unverified if claim.beneficiary == bob else ClaimStatus.issued
        assert status[claim.claim_id] == expected
    assert balance(chain, bob) == 0  # nothing minted to the revoked holder
    assert balance(chain, verified.alice.address) == sum(
        c.amount for c in claims if c.beneficiary != bob
    )
    worker(earning_settings, sessions, chain).drain()  # still revoked: still held
    assert balance(chain, bob) == 0

    platform.attest(bob)  # verified again
    worker(earning_settings, sessions, chain).drain()
    with sessions() as session:
        assert set(session.scalars(select(Claim.status))) == {ClaimStatus.issued}
    assert balance(chain, bob) == sum(c.amount for c in claims if c.beneficiary == bob)
