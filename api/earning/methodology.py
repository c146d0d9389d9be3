"""Methodology: versioned factor sets (data files) and the integer-gram quantification.

A factor set is a JSON file in ``api/earning/methodology/factors-<version>.json`` with its
sources, its baseline and its rounding rule; its content hash (keccak256 of the file's bytes)
goes into every claim and into the claim's Merkle leaf, so an auditor can fetch the exact file
a claim used and recompute the amount.

Arithmetic is exact: factors are decimals (kg CO2e per km = g CO2e per metre), distances whole
metres, labels whole grams. A claim's components are summed exactly and the total is rounded
down once to whole grams (never credit a fraction of a gram that was not avoided); a component
that would be negative (a mode dirtier than the baseline, a product above its category's
baseline) counts as zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import keccak

from api.errors import problem
from api.i18n import msg

METHODOLOGY_DIR = Path(__file__).resolve().parent / "methodology"

UnknownMethodology = problem(
    404,
    "unknown-methodology",
    "No such methodology version",
    when="No such methodology version.",
    show='"Not found".',
)
MethodologyTampered = problem(
    409,
    "methodology-tampered",
    "The factor set no longer matches the hash a claim recorded",
    when="A factor set no longer matches the hash a claim recorded (an operator problem).",
    show='"Temporarily unavailable".',
)


@dataclass(frozen=True)
class Mode:
    name: str
    factor: Decimal  # kg CO2e per km == g CO2e per metre
    max_speed_kmh: int
    evidence: str  # tap | ride | odometer | gps


@dataclass(frozen=True)
class FactorSet:
    version: str
    hash: bytes  # keccak256 of the file's bytes
    baseline: Decimal
    modes: dict[str, Mode]
    categories: dict[str, int]  # category -> baseline grams per unit
    gps_leg_cap_m: int
    gps_max_legs: int
    station_min_ratio: Decimal
    station_max_ratio: Decimal
    raw: dict[str, Any]

    @property
    def hash_hex(self) -> str:
        return "0x" + self.hash.hex()

    # -- quantification ----------------------------------------------------------------------

    def trip_component(self, mode: str, distance_m: int) -> Decimal:
        """Exact grams avoided by ``distance_m`` metres in ``mode`` instead of the baseline car."""
        return max(Decimal(0), Decimal(distance_m) * (self.baseline - self.modes[mode].factor))

    def product_component(self, category: str, label_g: int, quantity: int) -> Decimal:
        """Exact grams avoided by ``quantity`` units labelled ``label_g`` in ``category``."""
        return Decimal(max(0, self.categories[category] - label_g) * quantity)

    def quantify(self, inputs: dict[str, Any]) -> int:
        """Whole grams avoided for a claim's stored inputs (``service.trip_inputs`` and kin)."""
        total = Decimal(0)
        for part in inputs["components"]:
            if part["type"] == "trip":
                total += self.trip_component(part["mode"], int(part["distance_m"]))
            elif part["type"] == "product":
                total += self.product_component(
                    part["category"], int(part["label_g"]), int(part["quantity"])
                )
            else:  # pragma: no cover - inputs are written by this module only
                raise ValueError(f"unknown component {part['type']!r}")
        return int(total.to_integral_value(rounding=ROUND_FLOOR))


def _load(path: Path) -> FactorSet:
    content = path.read_bytes()
    data = json.loads(content)
    modes = {
        name: Mode(name, Decimal(m["factor"]), int(m["max_speed_kmh"]), m["evidence"])
        for name, m in data["modes"].items()
    }
    return FactorSet(
        version=data["version"],
        hash=keccak(content),
        baseline=Decimal(data["baseline"]["factor"]),
        modes=modes,
        categories={k: int(v["baseline_g"]) for k, v in data["product_categories"].items()},
        gps_leg_cap_m=int(data["gps_leg_cap_m"]),
        gps_max_legs=int(data["gps_max_legs"]),
        station_min_ratio=Decimal(data["station_distance"]["min_ratio"]),
        station_max_ratio=Decimal(data["station_distance"]["max_ratio"]),
        raw=data,
    )


@cache
def factor_sets(directory: Path = METHODOLOGY_DIR) -> dict[str, FactorSet]:
    """Every factor set on file, by version."""
    sets: dict[str, FactorSet] = {}
    for path in sorted(directory.glob("factors-*.json")):
        factor_set = _load(path)
        if factor_set.version in sets:
            raise ValueError(f"two factor sets claim version {factor_set.version}")
        sets[factor_set.version] = factor_set
    return sets


def factor_set(version: str, expected_hash: str | None = None) -> FactorSet:
    """The factor set ``version``; with ``expected_hash``, refuse a file that changed since."""
    try:
        found = factor_sets()[version]
    except KeyError:
        raise UnknownMethodology(
            msg("methodology {version!r} is not on file", version=version)
        ) from None
    if expected_hash is not None and found.hash_hex != expected_hash:
        raise MethodologyTampered(
            msg(
                "methodology {version} hashes to {hash_hex}, the claim recorded {expected_hash}",
                version=version,
                hash_hex=found.hash_hex,
                expected_hash=expected_hash,
            )
        )
    return found


@dataclass(frozen=True)
class Station:
    code: str
    name: str
    lat: Decimal
    lon: Decimal


@cache
def stations(directory: Path = METHODOLOGY_DIR) -> dict[str, Station]:
    data = json.loads((directory / "stations-incheon.json").read_text())
    return {
        code: Station(code, s["name"], Decimal(s["lat"]), Decimal(s["lon"]))
        for code, s in data["stations"].items()
    }


def recompute(version: str, methodology_hash: str, inputs: dict[str, Any]) -> int:
    """What an auditor runs: the amount a claim's stored inputs give under its factor set."""
    return factor_set(version, methodology_hash).quantify(inputs)
