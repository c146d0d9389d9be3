"""Methodology: versioned factor sets (data files) and the integer-gram quantification.

A factor set is a JSON file in ``api/earning/methodology/factors-<version>.json`` with its
sources, its baseline and its rounding rule; its content hash goes into every claim and into
the claim's Merkle leaf, so an auditor can fetch the exact set a claim used and recompute the
amount. From 2026.2 the hash is keccak256 of the set's canonical JSON (sorted keys, no
whitespace, UTF-8), so reformatting the file never changes it; 2026.1 keeps the hash of its
file's bytes, which its claims recorded.

Every factor states its source and a status: ``sourced`` (a published value, used at full
precision), ``estimate`` (derived by CRDA from sourced values; the derivation is in the file)
or ``placeholder`` (a development value). A claim carries the weakest status of what it rests
on, and production refuses to issue on placeholders unless the operator accepts the named set.
A factor may be written as an exact fraction ``"a/b"`` or as an energy intensity times a grid
factor, so a derived value is never rounded before the final amount.

Arithmetic is exact: factors are decimals (kg CO2e per km = g CO2e per metre), distances whole
metres, labels whole grams. A claim's components are summed exactly and the total is rounded
down once to whole grams (never credit a fraction of a gram that was not avoided); a component
that would be negative (a mode dirtier than the baseline, a product above its category's
baseline) counts as zero.

From 2026.3 transit taps within the transfer window form one journey whose exact grams are
rounded down once (each tap earns the increment, ``FactorSet.quantify``), and rail taps are
credited at the station graph's shortest path (``StationGraph``, ``stations-incheon.json``):
the graph is methodology data like a factor set, with a source and status per section,
content-addressed by its canonical JSON and recorded in the database with the first claim on it.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Context, Decimal
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


STATUSES = ("placeholder", "estimate", "sourced")  # weakest first
HASH_FILE_BYTES = "file-bytes"
HASH_CANONICAL = "canonical-json"
EXACT = Context(prec=50)  # derived factors are exact to 50 digits; grams are rounded once


def exact(value: str | int) -> Decimal:
    """A decimal from the factor file: ``"0.4173"`` or an exact fraction ``"0.0275/0.23314"``."""
    text = str(value)
    if "/" in text:
        numerator, denominator = text.split("/")
        return EXACT.divide(Decimal(numerator), Decimal(denominator))
    return Decimal(text)


def weakest(statuses: list[str] | set[str]) -> str:
    """The status a claim rests on: the weakest of its factors' (``sourced`` for none)."""
    return min(statuses, key=STATUSES.index, default="sourced")


def canonical_hash(data: dict[str, Any]) -> bytes:
    """keccak256 of the canonical JSON form: formatting a file never changes a set's hash."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return keccak(text.encode())


@dataclass(frozen=True)
class Mode:
    name: str
    factor: Decimal  # kg CO2e per km == g CO2e per metre
    max_speed_kmh: int
    evidence: str  # tap | ride | odometer | gps
    status: str = "sourced"
    cap_kind: str = ""  # the kind of activity its caps count under ("" for none)
    max_distance_m: int | None = None  # the longest record the mode can plausibly be


@dataclass(frozen=True)
class Cap:
    """Grams one citizen may earn from one kind of activity per local day and year; a claim
    held until it is corroborated counts against the ``corroborated_*`` limits instead (the
    same tallies, so claims on one record alone never pass the plain limits)."""

    daily_g: int | None
    yearly_g: int | None
    corroborated_daily_g: int | None = None
    corroborated_yearly_g: int | None = None

    def limits(self, corroborated: bool) -> tuple[int | None, int | None]:
        if corroborated:
            return (
                self.corroborated_daily_g or self.daily_g,
                self.corroborated_yearly_g or self.yearly_g,
            )
        return self.daily_g, self.yearly_g


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
    baseline_status: str = "sourced"
    category_status: str = "sourced"
    credits_gps_legs: bool = True  # 2026.1 only: unsigned legs count (closed from 2026.2)
    caps: dict[str, Cap] = field(default_factory=dict)  # activity kind -> cap
    content: bytes = b""  # the set as published (what the database records, byte for byte)
    # Rail taps credited at the station graph's shortest path (from 2026.3; none before).
    network_modes: frozenset[str] = frozenset()
    # Transit taps of one citizen with at most this gap between them form one journey,
    # credited once (from 2026.3; None before: every tap on its own).
    transfer_window_s: int | None = None
    journey_modes: frozenset[str] = frozenset()
    kind: str = "factors"  # what the database records it as (``MethodologySet.kind``)

    def cap_kind(self, inputs: dict[str, Any]) -> str:
        """The kind of activity whose caps a claim counts under ("" when the set has none)."""
        if inputs["kind"] == "purchase":
            return "purchase" if "purchase" in self.caps else ""
        return self.modes[inputs["components"][0]["mode"]].cap_kind

    def status_of(self, inputs: dict[str, Any]) -> str:
        """The weakest status among the factors a claim's inputs use."""
        found = {self.baseline_status} if inputs["kind"] == "trip" else set()
        for part in inputs["components"]:
            if part["type"] == "trip":
                found.add(self.modes[part["mode"]].status)
            else:
                found.add(self.category_status)
        return weakest(found)

    @property
    def hash_hex(self) -> str:
        return "0x" + self.hash.hex()

    # -- quantification ----------------------------------------------------------------------

    def trip_component(self, mode: str, distance_m: int) -> Decimal:
        """Exact grams avoided by ``distance_m`` metres in ``mode`` instead of the baseline car."""
        saved = EXACT.subtract(self.baseline, self.modes[mode].factor)
        return max(Decimal(0), EXACT.multiply(Decimal(distance_m), saved))

    def product_component(self, category: str, label_g: int, quantity: int) -> Decimal:
        """Exact grams avoided by ``quantity`` units labelled ``label_g`` in ``category``."""
        return Decimal(max(0, self.categories[category] - label_g) * quantity)

    def quantify(self, inputs: dict[str, Any]) -> int:
        """Whole grams avoided for a claim's stored inputs (``service.trip_inputs`` and kin).

        A tap that joined a journey (``inputs["journey"]``) earns the journey's increment: the
        journey's whole grams after it less before it, each rounded down once, from the exact
        grams of the taps before it (``prior_exact_g``); so five taps earn what one trip of
        their whole distance earns, to the gram."""
        total = self.exact_grams(inputs)
        journey = inputs.get("journey")
        if journey is None:
            return int(total.to_integral_value(rounding=ROUND_FLOOR))
        prior = Decimal(journey["prior_exact_g"])
        after = EXACT.add(prior, total).to_integral_value(rounding=ROUND_FLOOR)
        return int(after - prior.to_integral_value(rounding=ROUND_FLOOR))

    def exact_grams(self, inputs: dict[str, Any]) -> Decimal:
        """The exact, unrounded grams of a claim's own components."""
        total = Decimal(0)
        for part in inputs["components"]:
            if part["type"] == "trip":
                grams = self.trip_component(part["mode"], int(part["distance_m"]))
            elif part["type"] == "product":
                grams = self.product_component(
                    part["category"], int(part["label_g"]), int(part["quantity"])
                )
            else:  # pragma: no cover - inputs are written by this module only
                raise ValueError(f"unknown component {part['type']!r}")
            total = EXACT.add(total, grams)
        return total


def _factor(entry: dict[str, Any], grids: dict[str, Decimal]) -> Decimal:
    """A mode's factor: stated, or its energy intensity times its grid's factor (exact)."""
    if "factor" in entry:
        return exact(entry["factor"])
    return EXACT.multiply(exact(entry["energy_kwh_per_pkm"]), grids[entry["grid"]])


def _load(path: Path) -> FactorSet:
    return parse_factor_set(path.read_bytes())


def parse_factor_set(content: bytes) -> FactorSet:
    """A factor set from its published bytes (a file, or the database's record of it)."""
    data = json.loads(content)
    rule = data.get("hash_rule", HASH_FILE_BYTES)
    grids = {name: exact(g["kg_per_kwh"]) for name, g in data.get("grids", {}).items()}
    modes = {
        name: Mode(
            name,
            _factor(m, grids),
            int(m["max_speed_kmh"]),
            m["evidence"],
            m.get("status", "sourced"),
            m.get("cap_kind", ""),
            int(m["max_distance_m"]) if "max_distance_m" in m else None,
        )
        for name, m in data["modes"].items()
    }
    gps = data.get("gps_legs", {"leg_cap_m": data.get("gps_leg_cap_m", 0), "credited": True})
    journeys = data.get("journeys", {})
    return FactorSet(
        version=data["version"],
        hash=keccak(content) if rule == HASH_FILE_BYTES else canonical_hash(data),
        baseline=exact(data["baseline"]["factor"]),
        modes=modes,
        categories={k: int(v["baseline_g"]) for k, v in data["product_categories"].items()},
        gps_leg_cap_m=int(gps["leg_cap_m"]),
        gps_max_legs=int(data.get("gps_max_legs", 2)),
        station_min_ratio=Decimal(data["station_distance"]["min_ratio"]),
        station_max_ratio=Decimal(data["station_distance"]["max_ratio"]),
        raw=data,
        baseline_status=data["baseline"].get("status", "sourced"),
        category_status=data.get("product_categories_status", "sourced"),
        credits_gps_legs=bool(gps["credited"]),
        caps={
            kind: Cap(
                c.get("daily_g"),
                c.get("yearly_g"),
                c.get("corroborated_daily_g"),
                c.get("corroborated_yearly_g"),
            )
            for kind, c in data.get("caps_per_kind", {}).items()
        },
        content=content,
        network_modes=frozenset(data.get("network_distance", {}).get("modes", [])),
        transfer_window_s=journeys.get("transfer_window_s"),
        journey_modes=frozenset(journeys.get("modes", [])),
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
    district: str  # api/earning/districts.py: where a tap at this station happened
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class StationGraph:
    """The rail network as published (``stations-incheon.json``): stations by the operators'
    codes, the lines, and the track distance of each section between adjacent stations, each
    with its source and status. A trip between two stations is credited at most the shortest
    path between them (``network_m``). Content-addressed like a factor set: its hash is
    keccak256 of its canonical JSON, and the database records it with the first claim under it.
    """

    version: str
    hash: bytes
    stations: dict[str, Station]  # by code (aliases resolve through ``station``)
    aliases: dict[str, str]
    adjacent: dict[str, list[tuple[str, int]]]
    raw: dict[str, Any]
    content: bytes = b""
    kind: str = "stations"

    @property
    def hash_hex(self) -> str:
        return "0x" + self.hash.hex()

    def station(self, code: str) -> Station | None:
        """The station a record names, by its code or a former code (alias)."""
        return self.stations.get(self.aliases.get(code, code))

    def network_m(self, start: str, end: str) -> int | None:
        """The shortest track distance from ``start`` to ``end`` (codes or aliases), in whole
        metres; None when the graph holds no path between them (Dijkstra, integer metres)."""
        origin, target = self.aliases.get(start, start), self.aliases.get(end, end)
        best = {origin: 0}
        queue = [(0, origin)]
        while queue:
            metres, code = heapq.heappop(queue)
            if code == target:
                return metres
            if metres > best.get(code, metres):
                continue
            for nxt, section in self.adjacent.get(code, []):
                if metres + section < best.get(nxt, metres + section + 1):
                    best[nxt] = metres + section
                    heapq.heappush(queue, (metres + section, nxt))
        return None


def parse_station_graph(content: bytes) -> StationGraph:
    """A station graph from its published bytes (the file, or the database's record of it)."""
    data = json.loads(content)
    adjacent: dict[str, list[tuple[str, int]]] = {}
    for edge in data.get("edges", []):
        metres = int(edge["distance_m"])
        adjacent.setdefault(edge["from"], []).append((edge["to"], metres))
        adjacent.setdefault(edge["to"], []).append((edge["from"], metres))
    return StationGraph(
        version=data["version"],
        hash=canonical_hash(data),
        stations={
            code: Station(
                code,
                s["name"],
                Decimal(s["lat"]),
                Decimal(s["lon"]),
                s["district"],
                tuple(s.get("lines", ())),
            )
            for code, s in data["stations"].items()
        },
        aliases=dict(data.get("aliases", {})),
        adjacent=adjacent,
        raw=data,
        content=content,
    )


@cache
def station_graph(directory: Path = METHODOLOGY_DIR) -> StationGraph:
    """The station graph on file (what new claims are checked and credited against)."""
    return parse_station_graph((directory / "stations-incheon.json").read_bytes())


def station_data(directory: Path = METHODOLOGY_DIR) -> dict[str, Any]:
    """The station registry file as published (version, sources, lines, stations, sections)."""
    return station_graph(directory).raw


def stations(directory: Path = METHODOLOGY_DIR) -> dict[str, Station]:
    return station_graph(directory).stations


def recompute(version: str, methodology_hash: str, inputs: dict[str, Any]) -> int:
    """What an auditor runs: the amount a claim's stored inputs give under its factor set."""
    return factor_set(version, methodology_hash).quantify(inputs)
