"""The methodology is data: versioned, hashed, sourced; amounts are exact whole grams."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from eth_utils import keccak

from api.earning.districts import DISTRICTS
from api.earning.fraud import great_circle_m
from api.earning.methodology import (
    METHODOLOGY_DIR,
    factor_set,
    factor_sets,
    parse_station_graph,
    recompute,
    station_graph,
)
from api.errors import Problem


def test_the_factor_set_carries_its_sources_baseline_and_content_hash() -> None:
    fs = factor_set("2026.1")
    path = METHODOLOGY_DIR / "factors-2026.1.json"
    assert fs.hash == keccak(path.read_bytes())
    data = json.loads(path.read_text())
    assert data["baseline"]["factor"] == "0.1714" and data["baseline"]["why"]
    assert {m["source"] for m in data["modes"].values()} <= set(data["sources"])
    # The reference factors of the issue, as data.
    assert fs.modes["bus"].factor == Decimal("0.1031")
    assert fs.modes["subway"].factor == Decimal("0.0275")
    assert fs.modes["light_rail"].factor == Decimal("0.0299")
    assert fs.modes["rail"].factor == Decimal("0.0369")
    assert fs.modes["bike"].factor == fs.modes["walk"].factor == 0
    # Electric modes: energy intensity x Korea's 2023 grid factor (0.4173 kg/kWh).
    for mode in ("scooter", "ev_carshare"):
        energy = Decimal(data["modes"][mode]["energy_kwh_per_km"])
        assert fs.modes[mode].factor == energy * Decimal("0.4173")


def test_amounts_are_exact_then_rounded_down_once() -> None:
    fs = factor_set("2026.1")
    inputs = {
        "components": [
            {"type": "trip", "mode": "bus", "distance_m": 3},  # 3 x 0.0683 = 0.2049 g
            {"type": "trip", "mode": "bus", "distance_m": 7},  # 0.4781 g; sum 0.683 -> 0 g
        ]
    }
    assert fs.quantify(inputs) == 0
    inputs["components"].append({"type": "trip", "mode": "bus", "distance_m": 5})
    assert fs.quantify(inputs) == 1  # 15 x 0.0683 = 1.0245 -> 1 g (per-part rounding gives 0)


def test_a_product_above_its_category_baseline_counts_zero_not_negative() -> None:
    fs = factor_set("2026.1")
    inputs = {
        "components": [
            {"type": "product", "category": "rice.1kg", "label_g": 3000, "quantity": 5},
            {"type": "product", "category": "rice.1kg", "label_g": 2600, "quantity": 2},
        ]
    }
    assert fs.quantify(inputs) == 200


def test_unknown_versions_and_changed_files_are_refused() -> None:
    with pytest.raises(Problem) as unknown:
        factor_set("1999.1")
    assert unknown.value.type == "/problems/unknown-methodology"
    with pytest.raises(Problem) as changed:
        recompute("2026.1", "0x" + "ab" * 32, {"components": []})
    assert changed.value.type == "/problems/methodology-tampered"


def test_two_files_may_not_claim_one_version(tmp_path: Path) -> None:
    source = (METHODOLOGY_DIR / "factors-2026.1.json").read_text()
    (tmp_path / "factors-a.json").write_text(source)
    (tmp_path / "factors-b.json").write_text(source)
    with pytest.raises(ValueError, match="two factor sets"):
        factor_sets(tmp_path)


def test_2026_2_puts_electric_rail_on_korea_s_grid_and_rounds_once() -> None:
    """Issue 14: UK rail factors on the UK grid under-counted electric rail here by ~15 %."""
    old, new = factor_set("2026.1"), factor_set("2026.2")
    ride = {"kind": "trip", "components": [{"type": "trip", "mode": "subway", "distance_m": 4200}]}
    assert old.quantify(ride) == 604
    # 4200 x (0.1714 - 0.0275 / 0.23314 x 0.4173), exact to 50 digits, rounded down once.
    assert new.quantify(ride) == 513
    exact = Fraction("0.0275") / Fraction("0.23314") * Fraction("0.4173")
    assert abs(Fraction(new.modes["subway"].factor) - exact) < Fraction(1, 10**48)
    assert new.modes["bus"].factor == Decimal("0.10312")  # full precision (2026.1: 0.1031)
    data = new.raw
    for name, mode in data["modes"].items():
        assert mode["source"] in data["sources"] and mode["status"] in data["statuses"], name
        assert new.modes[name].status == mode["status"]


def test_a_claim_carries_the_weakest_status_it_rests_on() -> None:
    fs = factor_set("2026.2")
    bike = {"kind": "trip", "components": [{"type": "trip", "mode": "bike", "distance_m": 1}]}
    milk = {"kind": "purchase", "components": [{"type": "product", "category": "rice.1kg"}]}
    assert fs.status_of(bike) == "estimate"  # the car baseline is a UK proxy
    assert fs.status_of(milk) == "placeholder"
    assert factor_set("2026.1").status_of(milk) == "sourced"  # 2026.1 stated no statuses


def test_reformatting_a_canonical_set_keeps_its_hash(tmp_path: Path) -> None:
    """From 2026.2 the hash is the canonical form's: formatting never breaks recomputation."""
    data = json.loads((METHODOLOGY_DIR / "factors-2026.2.json").read_text())
    (tmp_path / "factors-2026.2.json").write_text(json.dumps(data, indent=7, sort_keys=False))
    reformatted = factor_sets(tmp_path)["2026.2"]
    assert reformatted.hash == factor_set("2026.2").hash
    data["modes"]["bus"]["factor"] = "0.10313"
    (tmp_path / "factors-2026.2.json").write_text(json.dumps(data))
    factor_sets.cache_clear()
    assert factor_sets(tmp_path)["2026.2"].hash != factor_set("2026.2").hash


def test_each_kind_of_activity_has_its_own_caps() -> None:
    fs = factor_set("2026.2")
    kinds = {mode.cap_kind for mode in fs.modes.values()} | {"purchase"}
    assert kinds == set(fs.caps)
    rental = {"kind": "trip", "components": [{"type": "trip", "mode": "ev_carshare"}]}
    assert fs.cap_kind(rental) == "ev_carshare"
    assert fs.caps["ev_carshare"].daily_g == 3000


# -- the station graph (issue 14, item 3) ----------------------------------------------------


def test_every_section_of_the_station_graph_has_a_source_and_is_no_shorter_than_its_line() -> None:
    graph = station_graph()
    data = graph.raw
    assert {"sourced", "estimate"} >= {e["status"] for e in data["edges"]}
    for edge in data["edges"]:
        assert edge["source"] in data["sources"] and edge["derivation"]
        a, b = graph.stations[edge["from"]], graph.stations[edge["to"]]
        assert edge["line"] in a.lines and edge["line"] in b.lines
        assert edge["distance_m"] >= 0.95 * great_circle_m(a.lat, a.lon, b.lat, b.lon)
    for station in graph.stations.values():
        assert station.district in DISTRICTS and set(station.lines) <= set(data["lines"])
    assert {graph.station(code) for code in graph.aliases} <= set(graph.stations.values())
    # One connected network: every station of every line reaches Gyeyang.
    assert all(graph.network_m("I110", code) is not None for code in graph.stations)


def test_the_station_graph_holds_the_rail_lines_within_incheon_joined_at_interchanges() -> None:
    graph = station_graph()
    lines = graph.raw["lines"]
    on = {line: {c for c, s in graph.stations.items() if line in s.lines} for line in lines}
    counts = {line: len(codes) for line, codes in on.items()}
    assert counts == {"IC1": 29, "IC2": 27, "AREX": 8, "SL1": 11, "SL7": 5, "SUIN": 2}
    assert len(graph.stations) == 73  # 80 stops, 7 of them interchanges (one node each)
    for line, codes in on.items():  # each line is one chain of its own sections
        edges = [e for e in graph.raw["edges"] if e["line"] == line]
        assert len(edges) == (len(codes) - 1 if line != "SUIN" else 0)
        assert {e["from"] for e in edges} | {e["to"] for e in edges} <= codes
    # An interchange's other number resolves to the one station.
    assert graph.station("I221") == graph.station("I124")
    assert graph.station("A07") == graph.station("I207") and graph.station("761").code == "I213"
    # Incheon Line 2 is scaled to the 29.2 km the city gives for it.
    assert sum(e["distance_m"] for e in graph.raw["edges"] if e["line"] == "IC2") == 29_200
    # Outside Incheon: Gimpo Airport (AREX A05), Songnae (Line 1, 150), Sangdong (Line 7, 756).
    assert all(graph.station(code) is None for code in ("A05", "150", "756"))


def test_a_shortest_path_crosses_lines_at_their_interchanges() -> None:
    graph = station_graph()
    section = {frozenset((e["from"], e["to"])): e["distance_m"] for e in graph.raw["edges"]}

    def along(*codes: str) -> int:
        return sum(section[frozenset(pair)] for pair in itertools.pairwise(codes))

    # Bupyeong (Line 1) -> Seokcheon Sageori (Line 2) through Incheon City Hall.
    line1 = along("I120", "I121", "I122", "I123", "I124")
    assert line1 == 4800 and graph.network_m("I120", "I222") == line1 + along("I124", "I222")
    assert graph.network_m("I120", "I221") == 4800  # Line 2's number for City Hall
    # Gyeyang -> Geomam: AREX's own section, not round by Lines 1 and 2.
    assert graph.network_m("A06", "A07") == along("I110", "I207")
    assert graph.network_m("I110", "I207") < graph.network_m("I110", "I124") + graph.network_m(
        "I124", "I207"
    )
    # Seongnam (Line 2 and 7) -> Bupyeong-gu Office (Line 1 and 7) by Line 7.
    assert graph.network_m("I213", "I118") == along("I213", "760", "I118")
    # Airport Terminal 2 -> Int'l Business District: AREX, Line 2, Line 1.
    assert graph.network_m("A11", "I138") == min(
        graph.network_m("A11", via) + graph.network_m(via, "I138") for via in ("I207", "I110")
    )


def test_network_distance_is_the_shortest_path_in_whole_metres() -> None:
    graph = station_graph()
    # Bupyeong -> Dongsu -> Bupyeongsamgeori -> Ganseogogeori -> Incheon City Hall.
    assert graph.network_m("I120", "I124") == 1100 + 1100 + 1200 + 1400 == 4800
    assert graph.network_m("IC1-127", "IC1-120") == 4800  # the 2026.1 codes are aliases
    assert graph.network_m("I124", "I124") == 0
    assert graph.network_m("I124", "nowhere") is None


def test_the_station_graph_hash_is_its_canonical_forms(tmp_path: Path) -> None:
    data = json.loads((METHODOLOGY_DIR / "stations-incheon.json").read_text())
    assert parse_station_graph(json.dumps(data, indent=5).encode()).hash == station_graph().hash
    data["edges"][0]["distance_m"] += 1
    assert parse_station_graph(json.dumps(data).encode()).hash != station_graph().hash


def test_a_journeys_tap_earns_the_increment_rounded_once() -> None:
    fs = factor_set("2026.3")
    one = {"kind": "trip", "components": [{"type": "trip", "mode": "bus", "distance_m": 1_000}]}
    own = fs.exact_grams(one)  # 68.28 g: 68 g on its own
    assert fs.quantify(one) == 68
    joined = {**one, "journey": {"id": 1, "tap": 2, "prior_exact_g": "0.9", "prior_claims": []}}
    assert fs.quantify(joined) == 69  # 69.18 after, 0 before
    assert own == Decimal("68.28")
