"""Submissions: verified evidence becomes a claim; every fraud rule refuses with its own reason."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.earning import service
from api.earning.evidence import sign_evidence
from api.earning.methodology import factor_set, recompute
from api.earning.models import (
    Claim,
    ClaimStatus,
    MethodologySet,
    Submission,
    SubmissionStatus,
)
from api.earning.service import EarningContext
from api.errors import Problem
from api.settings import Environment
from tests.conftest import Accounts, block_time
from tests.contracts.conftest import Platform
from tests.earning.conftest import Partners, partner_key, unique

pytestmark = pytest.mark.chain


def _purchase(session: Session, ctx: EarningContext, citizen: str, signed) -> Claim:
    evidence, signature = signed
    return service.submit_purchase(
        session, ctx, citizen=citizen, account_id="acct-1", evidence=evidence, signature=signature
    )


def _trip(session: Session, ctx: EarningContext, citizen: str, signed, gps=None) -> Claim:
    evidence, signature = signed
    return service.submit_trip(
        session,
        ctx,
        citizen=citizen,
        account_id="acct-1",
        evidence=evidence,
        signature=signature,
        gps_legs_m=gps,
    )


def refused(slug: str, action, sessions: sessionmaker[Session]) -> Problem:
    """Expect ``action`` to be refused as ``/problems/<slug>`` and the refusal to be stored."""
    with pytest.raises(Problem) as info:
        action()
    assert info.value.type == f"/problems/{slug}", (info.value.type, info.value.detail)
    assert info.value.status < 500
    with sessions() as session:
        last = session.scalars(select(Submission).order_by(Submission.id.desc())).first()
        assert last is not None
        assert (last.status, last.reason) == (SubmissionStatus.rejected, slug)
        assert last.reason_detail
    return info.value


# -- accepted -------------------------------------------------------------------------------


def test_a_signed_receipt_becomes_a_claim_of_the_methodologys_amount(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    alice = verified.alice.address
    signed = partners.receipt(alice, items=[("dairy.milk.1l", 2, 1900), ("snack.100g", 3, 300)])
    with sessions() as session:
        claim = _purchase(session, ctx, alice, signed)
        # 2 x (2400 - 1900) + 3 x (420 - 300)
        assert claim.amount == 1000 + 360
        assert claim.status == ClaimStatus.accepted
        assert claim.methodology_version == "2026.3"
        assert claim.methodology_hash == factor_set("2026.3").hash_hex
        assert claim.beneficiary == alice
        assert claim.district == "songdo"  # the store's, as the merchant was registered
        assert service.explain(claim)[-1].startswith("total rounded down to whole grams = 1360 g")


def test_walking_legs_nobody_signed_earn_nothing_from_2026_2(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    """Issue 14: two 800 m GPS legs added 45 % to a 4.2 km subway ride under 2026.1."""
    alice = verified.alice.address
    with sessions() as session:
        claim = _trip(session, ctx, alice, partners.tap_trip(alice), gps=[800, 800])
    # 4,200 m x (0.1714 - 0.0275 / 0.23314 x 0.4173) = 513.145... -> 513 g; the legs: 0 g.
    assert claim.amount == 513
    assert claim.inputs["components"] == [
        {"type": "trip", "mode": "subway", "distance_m": 4200, "source": "operator"}
    ]
    assert [leg["distance_m"] for leg in claim.inputs["uncredited"]] == [800, 800]
    assert recompute(claim.methodology_version, claim.methodology_hash, claim.inputs) == 513
    assert sum("not credited" in line for line in service.explain(claim)) == 2


def test_a_2026_1_trip_with_walking_legs_is_still_credited_as_it_was(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    """A claim keeps the factor set it was made under; 2026.1 stays recomputable."""
    ctx.settings = ctx.settings.model_copy(update={"methodology_version": "2026.1"})
    alice = verified.alice.address
    with sessions() as session:
        claim = _trip(session, ctx, alice, partners.tap_trip(alice), gps=[350, 800])
    # 4,200 m x (0.1714 - 0.0275) + 1,150 m walked x (0.1714 - 0) = 604.38 + 197.11 -> 801 g
    expected = Decimal(4200) * Decimal("0.1439") + Decimal(1150) * Decimal("0.1714")
    assert claim.amount == int(expected) == 801
    assert claim.district == "namdong-gu"  # boarded at Incheon City Hall (the registry's)
    assert claim.inputs["components"][1] == {
        "type": "trip",
        "mode": "walk",
        "distance_m": 350,
        "source": "gps",
    }


def test_a_bike_ride_with_coordinates_is_credited(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    alice = verified.alice.address
    with sessions() as session:
        claim = _trip(session, ctx, alice, partners.ride(alice))
    assert claim.amount == int(Decimal(1500) * Decimal("0.1714")) == 257
    assert claim.district is None  # no station, and the operator recorded no district


def test_recomputing_a_claim_from_its_stored_inputs_gives_its_amount(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    alice = verified.alice.address
    with sessions() as session:
        claims = [
            _purchase(session, ctx, alice, partners.receipt(alice)),
            _trip(session, ctx, alice, partners.tap_trip(alice), gps=[120]),
            _trip(session, ctx, alice, partners.ride(alice, mode="scooter", distance=2000)),
        ]
    with sessions() as session:
        for stored in session.scalars(select(Claim)):
            assert (
                recompute(stored.methodology_version, stored.methodology_hash, stored.inputs)
                == stored.amount
            )
    assert len(claims) == 3


def test_the_factor_set_is_recorded_with_the_first_claim_and_recomputation_reads_it(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    """Issue 14: factor sets as immutable, content-addressed records; the auditor's
    recomputation reads the record, whatever happens to the file later."""
    alice = verified.alice.address
    with sessions() as session:
        claim = _purchase(session, ctx, alice, partners.receipt(alice))
        _purchase(session, ctx, alice, partners.receipt(alice))
    with sessions() as session:
        (recorded,) = session.scalars(select(MethodologySet)).all()
        assert (recorded.version, recorded.hash) == ("2026.3", factor_set("2026.3").hash_hex)
        assert recorded.content.encode() == factor_set("2026.3").content
        stored = session.get(Claim, claim.id)
        assert stored is not None
        assert service.recompute_claim(session, stored) == (claim.amount, "database")


def test_a_set_whose_version_the_database_holds_otherwise_is_refused(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    """A factor file changed under the same version after claims used it: new claims are
    refused (an operator problem) rather than resting on a second meaning of one version."""
    alice = verified.alice.address
    with sessions() as session:
        session.add(MethodologySet(hash="0x" + "ab" * 32, version="2026.3", content="{}"))
        session.commit()
        refused(
            "methodology-tampered",
            lambda: _purchase(session, ctx, alice, partners.receipt(alice)),
            sessions,
        )


def test_a_changed_factor_file_is_refused_at_recomputation() -> None:
    with pytest.raises(Problem) as info:
        recompute("2026.1", "0x" + "00" * 32, {"components": []})
    assert info.value.type == "/problems/methodology-tampered"


# -- evidence and providers -----------------------------------------------------------------


def test_the_same_evidence_twice_is_refused_even_from_another_citizen(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    alice, bob = verified.alice.address, verified.bob.address
    signed = partners.receipt(alice, receipt_id="R-42")
    with sessions() as session:
        _purchase(session, ctx, alice, signed)
    with sessions() as session:
        refused("duplicate-evidence", lambda: _purchase(session, ctx, alice, signed), sessions)
    # Bob presents the same receipt, re-signed for him: same provider record, same nullifier.
    again = partners.receipt(bob, receipt_id="R-42")
    with sessions() as session:
        refused("duplicate-evidence", lambda: _purchase(session, ctx, bob, again), sessions)


def test_a_tampered_record_is_refused(sessions, ctx, partners: Partners, verified) -> None:
    alice = verified.alice.address
    evidence, signature = partners.receipt(alice)
    forged = evidence.model_copy(
        update={"items": [evidence.items[0].model_copy(update={"quantity": 50})]}
    )
    with sessions() as session:
        refused(
            "evidence-signature-invalid",
            lambda: _purchase(session, ctx, alice, (forged, signature)),
            sessions,
        )
        refused(
            "evidence-signature-invalid",
            lambda: _purchase(session, ctx, alice, (evidence, "0x1234")),
            sessions,
        )


def test_evidence_from_an_unknown_provider_is_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice = verified.alice.address
    rogue = partner_key("rogue-merchant")
    with sessions() as session:
        refused(
            "unknown-provider",
            lambda: _purchase(session, ctx, alice, partners.receipt(alice, merchant=rogue)),
            sessions,
        )


def test_evidence_from_a_suspended_provider_is_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice = verified.alice.address
    with sessions() as session:
        service.suspend_provider(session, "green-mart", "leaked key")
        refused(
            "provider-suspended",
            lambda: _purchase(session, ctx, alice, partners.receipt(alice)),
            sessions,
        )
        service.reactivate_provider(session, "green-mart")
        assert _purchase(session, ctx, alice, partners.receipt(alice)).amount > 0


def test_evidence_from_the_wrong_type_of_provider_is_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice = verified.alice.address
    with sessions() as session:
        # A mobility operator signing a receipt, a merchant signing a trip.
        refused(
            "provider-wrong-type",
            lambda: _purchase(
                session, ctx, alice, partners.receipt(alice, merchant=partners.bikes)
            ),
            sessions,
        )
        refused(
            "provider-wrong-type",
            lambda: _trip(
                session, ctx, alice, partners.tap_trip(alice, operator=partners.merchant)
            ),
            sessions,
        )


def test_evidence_naming_another_citizen_is_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice, bob = verified.alice.address, verified.bob.address
    with sessions() as session:
        refused(
            "evidence-not-yours",
            lambda: _purchase(session, ctx, bob, partners.receipt(alice)),
            sessions,
        )


def test_evidence_older_than_the_claim_window_is_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice = verified.alice.address
    old = int(time.time()) - (ctx.settings.claim_window_days + 1) * 86400
    with sessions() as session:
        refused(
            "evidence-expired",
            lambda: _purchase(session, ctx, alice, partners.receipt(alice, issued_at=old)),
            sessions,
        )
        refused(
            "evidence-from-future",
            lambda: _purchase(
                session, ctx, alice, partners.receipt(alice, issued_at=int(time.time()) + 3600)
            ),
            sessions,
        )


# -- trips ----------------------------------------------------------------------------------


def test_a_trip_overlapping_another_of_the_same_citizen_is_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice, bob = verified.alice.address, verified.bob.address
    start = int(time.time()) - 5000
    with sessions() as session:
        _trip(session, ctx, alice, partners.tap_trip(alice, start=start, duration=900))
        refused(
            "overlapping-trip",
            lambda: _trip(session, ctx, alice, partners.ride(alice, start=start + 600)),
            sessions,
        )
        # Back to back is fine, and another citizen's trip at the same time too.
        _trip(session, ctx, alice, partners.ride(alice, start=start + 900))
        _trip(session, ctx, bob, partners.tap_trip(bob, start=start, duration=900))


def test_a_speed_impossible_for_the_mode_is_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice = verified.alice.address
    with sessions() as session:
        problem = refused(
            "impossible-speed",
            lambda: _trip(session, ctx, alice, partners.tap_trip(alice, duration=60)),
            sessions,
        )
        assert problem.extensions["speed_kmh"] == 252
        refused(
            "impossible-speed",
            lambda: _trip(session, ctx, alice, partners.ride(alice, duration=90)),
            sessions,
        )


def test_a_distance_that_disagrees_with_the_stations_is_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice = verified.alice.address
    with sessions() as session:
        refused(
            "distance-mismatch",
            lambda: _trip(session, ctx, alice, partners.tap_trip(alice, distance=25_000)),
            sessions,
        )
        refused(
            "distance-mismatch",
            lambda: _trip(session, ctx, alice, partners.tap_trip(alice, distance=1_000)),
            sessions,
        )
        refused(
            "distance-mismatch",
            lambda: _trip(session, ctx, alice, partners.ride(alice, distance=9_000, duration=3600)),
            sessions,
        )
        refused(
            "unknown-station",
            lambda: _trip(
                session, ctx, alice, partners.tap_trip(alice, stations=("IC1-127", "XX-1", 4000))
            ),
            sessions,
        )


def test_gps_legs_beyond_the_cap_are_refused(sessions, ctx, partners: Partners, verified) -> None:
    """Under 2026.1, which credited legs (2026.2 stores them and credits nothing)."""
    ctx.settings = ctx.settings.model_copy(update={"methodology_version": "2026.1"})
    alice = verified.alice.address
    with sessions() as session:
        problem = refused(
            "gps-leg-over-cap",
            lambda: _trip(session, ctx, alice, partners.tap_trip(alice), gps=[801]),
            sessions,
        )
        assert problem.extensions == {"leg_m": 801, "cap_m": 800}
        refused(
            "gps-leg-over-cap",
            lambda: _trip(session, ctx, alice, partners.tap_trip(alice), gps=[100, 100, 100]),
            sessions,
        )
        refused(
            "gps-legs-not-allowed",
            lambda: _trip(session, ctx, alice, partners.ride(alice), gps=[100]),
            sessions,
        )


# -- identity and caps ----------------------------------------------------------------------


def test_a_replaced_key_never_re_credits_a_record_and_signs_nothing_after_it(
    sessions, ctx, partners: Partners, verified
) -> None:
    """Issue 14: after a leaked key was replaced (then: a new provider registration), the same
    receipt re-signed with the new key was credited again. Now a provider has keys with
    validity periods, and a record counts once per provider whichever key signed it."""
    alice = verified.alice.address
    old, new = partners.merchant, partner_key("merchant-2027")
    now = int(time.time())
    with sessions() as session:
        first = partners.receipt(alice, issued_at=now - 3600, receipt_id="R-1")
        assert _purchase(session, ctx, alice, first).amount == 1000
        service.rotate_key(
            session, "green-mart", new.address, datetime.fromtimestamp(now - 1800, UTC)
        )
        # The same receipt, re-signed with the new key: the new key did not exist then.
        resigned = partners.receipt(alice, issued_at=now - 3600, receipt_id="R-1", merchant=new)
        refused(
            "provider-key-not-valid", lambda: _purchase(session, ctx, alice, resigned), sessions
        )
        # Re-dated into the new key's time: still the provider's record R-1.
        redated = partners.receipt(alice, issued_at=now - 600, receipt_id="R-1", merchant=new)
        refused("duplicate-evidence", lambda: _purchase(session, ctx, alice, redated), sessions)
        # The old key signs nothing that counts after it was replaced.
        leaked = partners.receipt(alice, issued_at=now - 600, merchant=old)
        refused("provider-key-not-valid", lambda: _purchase(session, ctx, alice, leaked), sessions)
        fresh = partners.receipt(alice, issued_at=now - 600, merchant=new)
        assert _purchase(session, ctx, alice, fresh).amount == 1000
        keys = service.provider_keys(session, service.get_provider(session, "green-mart"))
    assert [(k.signer_address, k.valid_until is None) for k in keys] == [
        (old.address, False),
        (new.address, True),
    ]


def test_an_unverified_citizen_is_refused(sessions, ctx, partners: Partners, verified) -> None:
    carol = verified.carol.address
    with sessions() as session:
        refused(
            "citizen-unverified",
            lambda: _purchase(session, ctx, carol, partners.receipt(carol)),
            sessions,
        )


def test_activities_before_the_citizen_was_verified_do_not_earn(
    sessions, ctx, partners: Partners, verified, platform: Platform
) -> None:
    """Issue 14: verified a minute ago, a citizen claimed 3 x 3 kg for each of five days before
    (45 kg, all accepted). Only what happened after the verification earns now."""
    carol = verified.carol.address
    chain_now = block_time(platform.chain)
    platform.attest(carol, verified_ago=60)
    with sessions() as session:
        for days_before in range(1, 6):
            receipt = partners.receipt(carol, issued_at=chain_now - days_before * 86_400)
            problem = refused(
                "citizen-unverified", lambda r=receipt: _purchase(session, ctx, carol, r), sessions
            )
            assert "after the activity began" in (problem.detail or "")
        ctx.clock = lambda: datetime.fromtimestamp(chain_now + 60, UTC)
        after = partners.receipt(carol, issued_at=chain_now - 30)
        assert _purchase(session, ctx, carol, after).amount == 1000


def test_a_revoked_citizen_is_refused(
    sessions, ctx, partners: Partners, verified, platform: Platform
) -> None:
    alice = verified.alice.address
    platform.send(platform.registry.functions.revoke(alice), verified.verifier)
    with sessions() as session:
        refused(
            "citizen-revoked",
            lambda: _purchase(session, ctx, alice, partners.receipt(alice)),
            sessions,
        )


def test_a_citizen_whose_attestation_expired_before_the_activity_is_refused(
    sessions, ctx, partners: Partners, verified, platform: Platform
) -> None:
    carol = verified.carol.address
    # On the chain's clock (other tests may have moved it ahead of the wall clock).
    chain_now = block_time(platform.chain)
    platform.attest(carol, ttl=60)
    ctx.clock = lambda: datetime.fromtimestamp(chain_now + 400, UTC)
    with sessions() as session:
        refused(
            "citizen-unverified",
            lambda: _purchase(
                session, ctx, carol, partners.receipt(carol, issued_at=chain_now + 200)
            ),
            sessions,
        )


def test_daily_and_yearly_caps_are_enforced(sessions, ctx, partners: Partners, verified) -> None:
    alice = verified.alice.address
    ctx.settings = ctx.settings.model_copy(update={"daily_cap_grams": 2500})
    now = int(time.time())
    with sessions() as session:
        _purchase(session, ctx, alice, partners.receipt(alice, issued_at=now - 100))  # 1,000 g
        _purchase(session, ctx, alice, partners.receipt(alice, issued_at=now - 90))  # 2,000 g
        problem = refused(
            "daily-cap-reached",
            lambda: _purchase(session, ctx, alice, partners.receipt(alice, issued_at=now - 80)),
            sessions,
        )
        assert problem.extensions == {"cap_grams": 2500, "credited_grams": 2000}
    ctx.settings = ctx.settings.model_copy(
        update={"daily_cap_grams": 100_000, "yearly_cap_grams": 2500}
    )
    with sessions() as session:
        refused(
            "yearly-cap-reached",
            lambda: _purchase(session, ctx, alice, partners.receipt(alice, issued_at=now - 70)),
            sessions,
        )


def test_one_kind_of_activity_cannot_fill_the_day(
    sessions, ctx, partners: Partners, verified
) -> None:
    """From 2026.2, bikes and scooters earn at most 3 kg a day, whatever the 10 kg cap allows."""
    alice = verified.alice.address
    kst = 9 * 3600
    now = int(time.time())
    midnight = (now + kst) // 86400 * 86400 - kst  # the local day's start, in UTC seconds
    base = midnight + 60 if now - midnight > 6_000 else midnight - 86_400 + 60
    with sessions() as session:
        for n in range(7):  # 2,400 m x 0.1714 = 411 g each: 2,877 g
            ride = partners.ride(alice, start=base + n * 700, distance=2_400)
            assert _trip(session, ctx, alice, ride).amount == 411
        eighth = partners.ride(alice, start=base + 7 * 700, distance=2_400)
        problem = refused("kind-cap-reached", lambda: _trip(session, ctx, alice, eighth), sessions)
    assert problem.extensions == {
        "kind": "micromobility",
        "cap_grams": 3000,
        "credited_grams": 2877,
    }
    with sessions() as session:  # other kinds still earn that day
        tap = partners.tap_trip(alice, start=base + 8 * 700)
        assert _trip(session, ctx, alice, tap).amount == 513


def test_production_does_not_issue_on_placeholder_factors_unless_accepted(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice = verified.alice.address
    ctx.settings = ctx.settings.model_copy(update={"environment": Environment.production})
    with sessions() as session:
        refused(
            "placeholder-factors-refused",
            lambda: _purchase(session, ctx, alice, partners.receipt(alice)),
            sessions,
        )
        # A trip rests on estimates, not placeholders: it earns.
        assert _trip(session, ctx, alice, partners.tap_trip(alice)).amount == 513
    ctx.settings = ctx.settings.model_copy(update={"accept_placeholder_factors": "2026.3"})
    with sessions() as session:
        claim = _purchase(session, ctx, alice, partners.receipt(alice))
    assert service.factor_status(claim) == "placeholder"


def test_unknown_categories_and_zero_reductions_are_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice = verified.alice.address
    with sessions() as session:
        refused(
            "unknown-product-category",
            lambda: _purchase(
                session, ctx, alice, partners.receipt(alice, items=[("cars.suv", 1, 10)])
            ),
            sessions,
        )
        refused(
            "no-reduction",
            lambda: _purchase(
                session, ctx, alice, partners.receipt(alice, items=[("rice.1kg", 1, 2700)])
            ),
            sessions,
        )


def test_a_record_signed_for_another_chain_or_deployment_is_refused(
    sessions, ctx, partners: Partners, verified
) -> None:
    alice = verified.alice.address
    evidence, _ = partners.receipt(alice)
    other = type(partners.domain)(partners.domain.chain_id + 1, partners.domain.verifying_contract)
    signature = sign_evidence(other, evidence, partners.merchant.key)
    with sessions() as session:
        refused(
            "evidence-signature-invalid",
            lambda: _purchase(session, ctx, alice, (evidence, signature)),
            sessions,
        )


def test_providers_are_registered_once_per_code_and_key(sessions, partners: Partners) -> None:
    with sessions() as session, pytest.raises(Problem) as info:
        service.register_provider(
            session,
            code="green-mart",
            name="again",
            kind=service.ProviderKind.merchant,
            signer_address=partner_key(unique("k")).address,
        )
    assert info.value.type == "/problems/provider-exists"
