"""The methodology is data: versioned, hashed, sourced; amounts are exact whole grams."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from eth_utils import keccak

from api.earning.methodology import METHODOLOGY_DIR, factor_set, factor_sets, recompute
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
