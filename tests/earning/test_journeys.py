"""Issue 14, items 2 and 3: transit taps within the transfer window are one journey, credited
once for its whole distance; a rail tap is credited at the station graph's shortest path, and
the graph is recorded in the database, content-addressed, for the auditor's recomputation."""

from __future__ import annotations

import time
from decimal import ROUND_FLOOR, Decimal

import pytest
from sqlalchemy import select

from api.earning import service
from api.earning.methodology import EXACT, factor_set, station_graph
from api.earning.models import Claim, Journey, MethodologySet
from api.errors import Problem
from tests.conftest import Accounts
from tests.earning.conftest import Partners
from tests.earning.test_submission import _trip

pytestmark = pytest.mark.chain

# Five Incheon Line 1 taps in a row, 2 km each as their operator reports them (each pair's
# track distance is longer, so the reported 2 km is what counts), and the same 10 km at once.
FIVE_TAPS = [
    ("I110", "I112"),
    ("I112", "I114"),
    ("I114", "I117"),
    ("I117", "I119"),
    ("I119", "I121"),
]


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def test_ten_km_earns_the_same_as_one_trip_or_as_five_taps_of_one_journey(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    alice, bob = verified.alice.address, verified.bob.address
    start = int(time.time()) - 5 * 3600
    with sessions() as session:
        one = _trip(
            session,
            ctx,
            alice,
            partners.tap_trip(alice, start=start, duration=1800, stations=("I110", "I121", 10_000)),
        )
        taps = [
            _trip(
                session,
                ctx,
                bob,
                partners.tap_trip(bob, start=start + n * 900, duration=600, stations=(a, b, 2_000)),
            )
            for n, (a, b) in enumerate(FIVE_TAPS)
        ]
    fs = factor_set("2026.3")
    whole = _floor(fs.trip_component("subway", 10_000))
    assert one.amount == whole == 1221
    assert sum(t.amount for t in taps) == whole  # was 1,220 g in five claims rounded apart
    assert [t.inputs["journey"]["tap"] for t in taps] == [1, 2, 3, 4, 5]
    assert len({t.inputs["journey"]["id"] for t in taps}) == 1
    with sessions() as session:
        journey = session.scalars(select(Journey).where(Journey.citizen == bob)).one()
        assert (journey.taps, journey.credited_g) == (5, whole)
        assert journey.claim_ids == [t.claim_id for t in taps]
        assert Decimal(journey.exact_g) == EXACT.multiply(5, fs.trip_component("subway", 2_000))
        for tap in taps:  # the auditor's recomputation gives each tap's increment
            stored = session.get(Claim, tap.id)
            assert stored is not None
            assert service.recompute_claim(session, stored) == (tap.amount, "database")
        last = session.get(Claim, taps[-1].id)
        assert last is not None
        assert "tap 5 of journey" in " ".join(service.explain(last))
        # A journey tap whose recorded starting point its earlier taps do not give is caught.
        last.inputs = {**last.inputs, "journey": {**last.inputs["journey"], "prior_exact_g": "1"}}
        with pytest.raises(Problem) as info:
            service.recompute_claim(session, last)
        assert info.value.type == "/problems/methodology-tampered"
        session.rollback()


def test_a_tap_after_the_transfer_window_starts_a_new_journey(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    alice = verified.alice.address
    start = int(time.time()) - 5 * 3600
    with sessions() as session:
        first = _trip(session, ctx, alice, partners.tap_trip(alice, start=start, duration=600))
        # Tap-in 30 minutes after the tap-out: still a transfer (the window is inclusive).
        second = _trip(
            session, ctx, alice, partners.tap_trip(alice, start=start + 600 + 1800, duration=600)
        )
        # 30 minutes and 1 second after the second tap-out: a new journey.
        third = _trip(
            session, ctx, alice, partners.tap_trip(alice, start=start + 3600 + 1801, duration=600)
        )
    ids = [c.inputs["journey"]["id"] for c in (first, second, third)]
    assert ids[0] == ids[1] != ids[2]
    assert third.inputs["journey"]["tap"] == 1


def test_a_rail_tap_is_credited_at_the_network_distance_not_a_band(
    sessions, ctx, partners: Partners, verified: Accounts
) -> None:
    """Bupyeong -> Incheon City Hall: 4,087 m straight, 4,800 m of track. Reported as 8,186 m
    it was paid 1,177 g (2026.1) and 1,000 g (2026.2); now the track counts."""
    alice = verified.alice.address
    start = int(time.time()) - 5 * 3600
    with sessions() as session:
        claim = _trip(
            session,
            ctx,
            alice,
            partners.tap_trip(alice, start=start, stations=("IC1-120", "IC1-127", 8_186)),
        )
        shorter = _trip(  # an operator's shorter figure is what counts
            session,
            ctx,
            alice,
            partners.tap_trip(alice, start=start + 7200, stations=("I124", "I120", 4_500)),
        )
    fs, graph = factor_set("2026.3"), station_graph()
    (part,) = claim.inputs["components"]
    assert part["distance_m"] == 4_800
    assert part["route"] == {
        "from": "I120",
        "to": "I124",
        "network_m": 4_800,
        "reported_m": 8_186,
        "graph": graph.hash_hex,
        "graph_version": graph.version,
    }
    assert claim.amount == _floor(fs.trip_component("subway", 4_800)) == 586
    assert shorter.inputs["components"][0]["distance_m"] == 4_500
    with sessions() as session:  # the graph is recorded with the claim, content-addressed
        row = session.get(MethodologySet, graph.hash_hex)
        assert row is not None and (row.kind, row.version) == ("stations", graph.version)
        assert row.content.encode() == graph.content
        stored = session.get(Claim, claim.id)
        assert stored is not None
        assert service.recompute_claim(session, stored) == (586, "database")
        # A recorded graph that no longer gives the claim's route is caught.
        stored.inputs = {
            **stored.inputs,
            "components": [{**part, "route": {**part["route"], "network_m": 4_000}}],
        }
        with pytest.raises(Problem) as info:
            service.recompute_claim(session, stored)
        assert info.value.type == "/problems/methodology-tampered"
        session.rollback()
