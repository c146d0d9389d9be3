"""The city the demo plays in: people, partners, trips and receipts, from one seeded random.

Pure data, no I/O: the same seed and run tag give the same day. Geometry is integer arithmetic
on micro-degrees (an equirectangular approximation near Incheon, within 1% of the great circle
at these distances), so reported distances sit well inside the methodology's plausibility
band and no float ever becomes an amount.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_utils import keccak

# Metres per micro-degree near 37.5 N, times 1000 (latitude: 111.1 km/deg; longitude: x cos).
LAT_MM_PER_MICRODEG = 111
LON_MM_PER_MICRODEG = 88

SURNAMES = (
    "Kim",
    "Lee",
    "Park",
    "Choi",
    "Jung",
    "Kang",
    "Cho",
    "Yoon",
    "Jang",
    "Lim",
    "Han",
    "Oh",
    "Seo",
    "Shin",
    "Kwon",
    "Hwang",
    "Ahn",
    "Song",
    "Yoo",
    "Hong",
)
GIVEN = (
    "Minji",
    "Seojun",
    "Jiwoo",
    "Hayoon",
    "Doyun",
    "Seoyeon",
    "Eunwoo",
    "Jiho",
    "Sua",
    "Yejun",
    "Haeun",
    "Siwoo",
    "Jimin",
    "Juwon",
    "Chaewon",
    "Hyunwoo",
    "Yuna",
    "Taeyang",
    "Dahye",
    "Sungmin",
    "Nari",
    "Joon",
    "Soyeon",
    "Woojin",
)

VERIFIERS = (
    "Yeonsu-gu Community Centre",
    "Shinhan Bank Bupyeong Branch",
    "KT Customer ID Desk Songdo",
    "Namdong-gu Office",
)

BUSINESSES = (
    "Songdo Bio Logistics Co.",
    "Incheon Harbour Steel Ltd.",
    "Bupyeong Precision Parts",
    "Cheongna Data Centre",
    "Yeongjong Airport Catering",
)


@dataclass(frozen=True)
class Partner:
    """A data provider as the operator registers it: its code, name, kind, modes and district
    (a store's gu or IFEZ zone, an operator's service area; taps count at their stations)."""

    slug: str
    name: str
    kind: Literal["merchant", "mobility"]
    modes: tuple[str, ...] = ()
    district: str | None = None


MERCHANTS = (
    Partner("gs25-songdo", "GS25 Songdo Central Park", "merchant", district="songdo"),
    Partner("lotte-bupyeong", "Lotte Mart Bupyeong", "merchant", district="bupyeong-gu"),
    Partner("hanaro-namdong", "Hanaro Mart Namdong", "merchant", district="namdong-gu"),
    Partner("emart-everyday", "Emart Everyday Guwol", "merchant", district="namdong-gu"),
)
MOBILITY = (
    Partner("incheon-transit", "Incheon Transit Corporation", "mobility", ("subway", "bus")),
    Partner("incheon-bike", "Incheon Bike Share", "mobility", ("bike",), "songdo"),
    Partner("swing-scooter", "Swing e-Scooter Incheon", "mobility", ("scooter",), "yeonsu-gu"),
    Partner("greencar-ev", "GreenCar EV Sharing", "mobility", ("ev_carshare",)),
)

# Relative weights of a citizen's activities, and the plausible distances and speeds per mode.
MODE_WEIGHTS = {"subway": 30, "bus": 25, "bike": 12, "scooter": 8, "ev_carshare": 5}
RECEIPT_WEIGHT = 45
# mode -> (shortest, longest distance in metres, average speed in km/h incl. waits)
MODE_PROFILE = {
    "subway": (3_000, 15_000, 32),
    "bus": (1_500, 12_000, 18),
    "bike": (1_000, 7_000, 14),
    "scooter": (600, 4_000, 16),
    "ev_carshare": (4_000, 25_000, 38),
}

# Products on the shelves: (category, product name, label grams as % of the category baseline).
# Certified low-carbon products sit below the baseline; a few ordinary ones at or above it.
PRODUCTS = (
    ("dairy.milk.1l", "Seoul Milk Low-Carbon 1L", 72),
    ("dairy.milk.1l", "Maeil Organic Milk 1L", 85),
    ("dairy.milk.1l", "Store-brand Milk 1L", 104),
    ("beverage.water.500ml", "Jeju Samdasoo Eco 500ml", 70),
    ("beverage.water.500ml", "Label-free Spring Water 500ml", 81),
    ("beverage.juice.1l", "Woongjin Orange 1L (carbon label)", 88),
    ("beverage.juice.1l", "Imported Apple Juice 1L", 110),
    ("snack.100g", "Orion Rice Crackers 100g", 79),
    ("snack.100g", "Nongshim Shrimp Crackers 100g", 96),
    ("household.detergent.1l", "LG Refill Detergent 1L", 64),
    ("household.detergent.1l", "Aekyung Concentrate 1L", 83),
    ("rice.1kg", "Gangwha Low-Methane Rice 1kg", 77),
    ("rice.1kg", "Icheon Rice 1kg", 98),
)


def product_code(name: str) -> str:
    """A stable EAN-13 style code under the Korean prefix 880 (check digit computed)."""
    body = "880" + str(int.from_bytes(keccak(text=name)[:8], "big"))[:9]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def straight_m(lat1: int, lon1: int, lat2: int, lon2: int) -> int:
    """Straight-line metres between two points in micro-degrees (integers only)."""
    dy = (lat2 - lat1) * LAT_MM_PER_MICRODEG
    dx = (lon2 - lon1) * LON_MM_PER_MICRODEG
    return math.isqrt(dy * dy + dx * dx) // 1000


def micro(value: Any) -> int:
    """A decimal degree (text or Decimal) in whole micro-degrees."""
    whole, _, frac = str(value).partition(".")
    sign = -1 if whole.startswith("-") else 1
    return int(whole) * 1_000_000 + sign * int((frac + "000000")[:6])


# Neighbourhoods where rides start: (name, lat, lon) in micro-degrees.
AREAS = (
    ("Songdo", 37_392_000, 126_639_000),
    ("Bupyeong", 37_489_000, 126_724_000),
    ("Guwol", 37_450_000, 126_703_000),
    ("Juan", 37_464_000, 126_680_000),
    ("Gyeyang", 37_537_000, 126_737_000),
    ("Cheongna", 37_535_000, 126_650_000),
)


@dataclass
class Activity:
    """One signed record a citizen's app submits (``attempt`` names a fraud attempt)."""

    kind: Literal["trip", "purchase"]
    partner: Partner
    evidence: dict[str, Any]
    gps_legs_m: list[int] = field(default_factory=list)
    attempt: str | None = None  # None: genuine; else the fraud it tries
    tamper: dict[str, Any] | None = None  # fields changed after signing
    forged: bool = False  # signed by a key no provider registered

    @property
    def start(self) -> int:
        return int(self.evidence.get("startedAt", self.evidence.get("issuedAt", 0)))

    @property
    def end(self) -> int:
        return int(self.evidence.get("endedAt", self.evidence.get("issuedAt", 0)))


class DayPlanner:
    """Plans citizens' days: non-overlapping trips and shopping between 06:30 and 23:00."""

    def __init__(
        self,
        rng: random.Random,
        tag: str,
        day_start: int,
        merchants: list[Partner],
        mobility: list[Partner],
        addresses: Mapping[str, str],
        stations: dict[str, tuple[int, int]],
        baselines: dict[str, int] | None = None,
    ) -> None:
        self.rng = rng
        self.tag = tag
        self.day_start = day_start  # local midnight of the day, unix seconds
        self.merchants = merchants
        self.by_mode = {mode: p for p in mobility for mode in p.modes}
        self.addresses = addresses  # partner slug -> signing address
        self.stations = stations  # code -> (lat, lon) micro-degrees
        self.baselines = baselines or BASELINES  # category -> grams per unit
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self.tag}-{self._n:06d}"

    def days(self, citizen: str, count: int, per_day: int = 5) -> list[Activity]:
        """``count`` activities of one citizen: the day's, and the days before it that the app
        syncs with them (at most ``per_day`` a day, as a real week of commuting and shopping)."""
        out: list[Activity] = []
        back = 0
        # At most 6 days back: the citizens were checked at their desks just before (a verifier
        # may date a check at most 7 days back, and only activities after it earn).
        while len(out) < count and back < 6:
            start = self.day_start - back * 86_400
            out = self.day(citizen, min(per_day, count - len(out)), start) + out
            back += 1
        return out

    def day(self, citizen: str, count: int, day_start: int | None = None) -> list[Activity]:
        """``count`` genuine activities of one citizen, in time order, trips never overlapping."""
        day_start = self.day_start if day_start is None else day_start
        weights = {m: w for m, w in MODE_WEIGHTS.items() if m in self.by_mode}
        if self.merchants:
            weights["purchase"] = RECEIPT_WEIGHT
        kinds = self.rng.choices(list(weights), weights=list(weights.values()), k=count)
        clock = day_start + 6 * 3600 + 1800 + self.rng.randrange(0, 3600)
        latest = day_start + 23 * 3600
        out: list[Activity] = []
        for kind in kinds:
            if clock >= latest:
                break
            activity = (
                self.receipt(citizen, clock)
                if kind == "purchase"
                else self.trip(citizen, kind, clock)
            )
            out.append(activity)
            clock = activity.end + self.rng.randrange(15 * 60, 90 * 60)
        return out

    def receipt(self, citizen: str, at: int) -> Activity:
        merchant = self.rng.choice(self.merchants)
        items = []
        shelf = [p for p in PRODUCTS if p[0] in self.baselines]
        for category, name, label_pct in self.rng.sample(shelf, self.rng.randint(1, 4)):
            baseline = self.baselines[category]
            items.append(
                {
                    "productCode": product_code(name),
                    "category": category,
                    "quantity": self.rng.choice((1, 1, 1, 2, 2, 3)),
                    "labelGrams": baseline * label_pct // 100,
                }
            )
        evidence = {
            "receiptId": self._id("R"),
            "merchant": self.addresses[merchant.slug],
            "citizen": citizen,
            "issuedAt": at,
            "items": items,
        }
        return Activity("purchase", merchant, evidence)

    def trip(self, citizen: str, mode: str, at: int) -> Activity:
        operator = self.by_mode[mode]
        low, high, kmh = MODE_PROFILE[mode]
        evidence: dict[str, Any] = {
            "tripId": self._id("T"),
            "operator": self.addresses[operator.slug],
            "citizen": citizen,
            "mode": mode,
            "startedAt": at,
            "endedAt": at,
            "fromStation": "",
            "toStation": "",
            "startLat": 0,
            "startLon": 0,
            "endLat": 0,
            "endLon": 0,
            "distanceMeters": 0,
        }
        legs: list[int] = []
        if mode in ("subway", "bus"):
            a, b = self.rng.sample(sorted(self.stations), 2)
            line = straight_m(*self.stations[a], *self.stations[b])
            distance = line * self.rng.randint(112, 145) // 100
            evidence |= {"fromStation": a, "toStation": b}
            legs = [self.rng.randint(150, 800) for _ in range(self.rng.choice((0, 1, 2, 2)))]
        elif mode in ("bike", "scooter"):
            _name, lat, lon = self.rng.choice(AREAS)
            lat += self.rng.randint(-8_000, 8_000)
            lon += self.rng.randint(-8_000, 8_000)
            wanted = self.rng.randint(low, high)
            # A direction, then the end point whose straight line is about wanted / 1.25.
            dlat = self.rng.randint(-1000, 1000)
            dlon = self.rng.randint(-1000, 1000) or 1
            unit = straight_m(0, 0, dlat, dlon) or 1
            line = wanted * 100 // 125
            end_lat, end_lon = lat + dlat * line // unit, lon + dlon * line // unit
            line = max(1, straight_m(lat, lon, end_lat, end_lon))
            distance = line * self.rng.randint(110, 145) // 100
            evidence |= {"startLat": lat, "startLon": lon, "endLat": end_lat, "endLon": end_lon}
        else:  # odometer
            distance = self.rng.randint(low, high)
        # Duration at the mode's average speed, with some spread (never over its top speed).
        seconds = distance * 3600 // (kmh * 1000)
        seconds = seconds * self.rng.randint(90, 135) // 100 + self.rng.randint(60, 300)
        evidence |= {"endedAt": at + seconds, "distanceMeters": max(1, distance)}
        return Activity("trip", operator, evidence, gps_legs_m=legs)


# The methodology's category baselines (grams per unit); the demo reads the served factor set
# and overrides these, they are only the fallback for the planner's standalone use.
BASELINES = {
    "dairy.milk.1l": 2400,
    "beverage.water.500ml": 160,
    "beverage.juice.1l": 1100,
    "snack.100g": 420,
    "household.detergent.1l": 1250,
    "rice.1kg": 2700,
}


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"


def phone(rng: random.Random) -> str:
    return f"+82 10 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"


def birth_date(rng: random.Random) -> str:
    return f"{rng.randint(1950, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def national_id(rng: random.Random, tag: str, index: int) -> str:
    """A synthetic resident registration number, unique per run (never a real person's)."""
    birth = f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    serial = int.from_bytes(keccak(text=f"{tag}:{index}")[:4], "big") % 10**7
    return f"{birth}-{serial:07d}-{tag}"
