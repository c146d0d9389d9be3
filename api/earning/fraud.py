"""Fraud and double counting: every refusal has its own problem type (``/problems/<slug>``).

The checks that need only the record and the methodology live here as pure functions; the
ones that need the database (duplicates, overlaps, caps) or the chain (the citizen's identity)
are made by the service with the same problem types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from api.chain.identity import Attestation
from api.earning.evidence import TripEvidence
from api.earning.methodology import FactorSet, StationGraph
from api.errors import problem
from api.i18n import msg
from api.timeutil import aware

# -- evidence and providers ------------------------------------------------------------------
UnknownProvider = problem(
    403,
    "unknown-provider",
    "The evidence is signed by an unknown provider",
    when="The evidence is signed by a key no registered data provider holds.",
    show='"This receipt or trip is not from a partner".',
)
ProviderSuspended = problem(
    403,
    "provider-suspended",
    "The evidence is signed by a suspended provider",
    when="The evidence is signed by a suspended data provider.",
    show='"This partner is suspended; the activity cannot earn".',
)
ProviderWrongType = problem(
    403,
    "provider-wrong-type",
    "The provider may not sign this kind of evidence",
    when="The provider may not sign this kind of evidence (a merchant signing a trip).",
    show='"This partner cannot certify this activity".',
)
EvidenceNotYours = problem(
    403,
    "evidence-not-yours",
    "The evidence names another citizen",
    when="The evidence names another citizen.",
    show='"This receipt or trip belongs to someone else".',
)
EvidenceExpired = problem(
    422,
    "evidence-expired",
    "The evidence is older than the claim window",
    when="The evidence is older than the claim window.",
    show='"Too old to claim".',
)
EvidenceFromFuture = problem(
    422,
    "evidence-from-future",
    "The evidence is dated in the future",
    when="The evidence is dated in the future (a clock problem).",
    show='"Check the phone\'s date and time".',
)
DuplicateEvidence = problem(
    409,
    "duplicate-evidence",
    "This evidence has already been claimed",
    when="The same evidence was already claimed (each receipt or trip counts once).",
    show='"Already counted"; show the existing claim.',
)

# -- identity --------------------------------------------------------------------------------
CitizenUnverified = problem(
    403,
    "citizen-unverified",
    "The citizen was not verified at the activity's time",
    when="The citizen had no live verification at the time of the activity.",
    show='"Get verified first"; activities before verification do not earn.',
)
CitizenRevoked = problem(
    403,
    "citizen-revoked",
    "The citizen's verification was revoked",
    when="The citizen's verification was revoked.",
    show='"Your verification was withdrawn"; contact a verifier.',
)


ProviderKeyNotValid = problem(
    403,
    "provider-key-not-valid",
    "The record's key was not its provider's signing key at the activity's time",
    when=(
        "The record was signed with a key of its provider that was not valid when the activity"
        " happened (a key replaced before it, or registered after it)."
    ),
    show='"This partner cannot certify this activity"',
)


def require_key_valid_at(
    valid_from: datetime | None, valid_until: datetime | None, moment: datetime, provider: str
) -> None:
    """A record counts only under the key its provider used at the activity's time."""
    if valid_from is not None and moment < aware(valid_from):
        raise ProviderKeyNotValid(
            msg(
                "this key of {provider} is valid from {start}; the activity began at {began}",
                provider=provider,
                start=aware(valid_from).isoformat(),
                began=moment.isoformat(),
            )
        )
    if valid_until is not None and moment >= aware(valid_until):
        raise ProviderKeyNotValid(
            msg(
                "this key of {provider} was replaced at {end}; the activity began at {began}",
                provider=provider,
                end=aware(valid_until).isoformat(),
                began=moment.isoformat(),
            )
        )


def require_verified_at(
    attestation: Attestation,
    address: str,
    activity_start: datetime,
    activity_end: datetime,
    now: datetime,
) -> None:
    """Raise the problem that says why ``address`` may not earn for this activity.

    "Verified when it happened": an attestation exists, is not revoked, the person was verified
    by the time the activity began (the registry's ``verifiedSince``, kept across renewals), the
    attestation did not expire before the activity ended, and its verifier is still accredited
    (``isVerified``, unless it has merely expired since).
    """
    a = attestation
    if not a.exists:
        raise CitizenUnverified(msg("{address} has no attestation", address=address))
    if a.revoked:
        raise CitizenRevoked(msg("the attestation of {address} was revoked", address=address))
    if a.verified_since > int(activity_start.timestamp()):
        raise CitizenUnverified(
            msg(
                "{address} was verified at {since}, after the activity began at {began}; only"
                " activities after verification earn",
                address=address,
                since=datetime.fromtimestamp(a.verified_since, UTC).isoformat(),
                began=activity_start.isoformat(),
            )
        )
    if a.expires_at <= int(activity_end.timestamp()):
        raise CitizenUnverified(
            msg("the attestation of {address} expired before the activity", address=address)
        )
    if not a.live and a.expires_at > int(now.timestamp()):
        raise CitizenUnverified(
            msg("the verifier of {address} is no longer accredited", address=address)
        )


# -- trips -----------------------------------------------------------------------------------
UnknownMode = problem(
    422,
    "unknown-mode",
    "The trip's mode is not in the methodology",
    when="The trip's mode is not in the methodology.",
    show='"This kind of trip does not earn".',
)
UnknownStation = problem(
    422,
    "unknown-station",
    "A station of the trip is not known",
    when="A station of the trip is not known.",
    show='"This trip could not be verified".',
)
InvalidTripTimes = problem(
    422,
    "invalid-trip-times",
    "The trip ends before it starts",
    when="The trip ends before it starts.",
    show="A bug in the app; report it.",
)
MissingTripData = problem(
    422,
    "missing-trip-data",
    "The trip lacks the stations or coordinates its mode needs",
    when="The trip lacks the stations or coordinates its mode needs.",
    show="A bug in the app or the partner's record; report it.",
)
ImpossibleSpeed = problem(
    422,
    "impossible-speed",
    "The trip's speed is impossible for its mode",
    when="The trip's speed is not plausible for its mode.",
    show='"This trip could not be verified".',
)
DistanceMismatch = problem(
    422,
    "distance-mismatch",
    "The trip's distance disagrees with its stations or coordinates",
    when="The trip's distance disagrees with its stations or coordinates.",
    show='"This trip could not be verified".',
)
DistanceOverLimit = problem(
    422,
    "distance-over-limit",
    "The trip is longer than its mode's plausibility limit",
    when=(
        "The record's distance is beyond the longest the methodology finds plausible for its"
        " mode in one record (each mode's max_distance_m)."
    ),
    show='"This trip could not be verified".',
)
NoNetworkRoute = problem(
    422,
    "no-network-route",
    "The station graph has no route between the trip's stations",
    when=(
        "A rail trip names two known stations that the station graph does not connect (a line"
        " whose sections are not in the graph yet), so its distance cannot be credited."
    ),
    show='"This trip could not be verified".',
)
JourneyChanged = problem(
    409,
    "journey-changed",
    "Another tap of the same journey was credited at the same moment",
    when=(
        "Another tap of the citizen's journey was credited while this one was being checked"
        " (the journey's row moved on); nothing was credited for this tap."
    ),
    show="Send the tap again (it is safe: a record counts once).",
)
GpsLegOverCap = problem(
    422,
    "gps-leg-over-cap",
    "A GPS leg is longer than the cap",
    when="A GPS leg is longer than the allowed cap.",
    show='"Part of this trip could not be counted".',
)
GpsLegsNotAllowed = problem(
    422,
    "gps-legs-not-allowed",
    "GPS legs are counted only with transit trips",
    when="GPS legs were sent with a trip that is not a transit trip.",
    show="A bug in the app; report it.",
)
OverlappingTrip = problem(
    409,
    "overlapping-trip",
    "The trip overlaps another trip of the citizen",
    when="The trip overlaps in time another trip of the citizen.",
    show='"This trip overlaps another one".',
)

# -- purchases and amounts -------------------------------------------------------------------
UnknownProductCategory = problem(
    422,
    "unknown-product-category",
    "A product's category has no baseline in the methodology",
    when="A product's category has no baseline in the methodology.",
    show='"This product does not earn credits".',
)
NoReduction = problem(
    422,
    "no-reduction",
    "The activity avoided no emissions to credit",
    when="The activity avoided no emissions, so there is nothing to credit.",
    show='"No credits for this one" (not an error to retry).',
)
DailyCapReached = problem(
    409,
    "daily-cap-reached",
    "The citizen's daily credit cap is reached",
    when="The citizen reached the daily credit cap.",
    show='"Daily limit reached; more tomorrow".',
)
KindCapReached = problem(
    409,
    "kind-cap-reached",
    "The citizen's cap for this kind of activity is reached",
    when=(
        "The citizen reached the methodology's daily or yearly cap for this kind of activity"
        " (transit, micromobility, EV car-sharing or purchases)."
    ),
    show='"Limit for this kind of activity reached".',
)
PlaceholderFactorsRefused = problem(
    409,
    "placeholder-factors-refused",
    "The claim rests on placeholder factors, which production does not issue on",
    when=(
        "In production, the claim would rest on a factor the methodology marks as a placeholder"
        " and the operator has not accepted that factor set (an operator problem)."
    ),
    show='"This kind of activity does not earn yet".',
)
YearlyCapReached = problem(
    409,
    "yearly-cap-reached",
    "The citizen's yearly credit cap is reached",
    when="The citizen reached the yearly credit cap.",
    show='"Yearly limit reached".',
)

EARTH_RADIUS_M = 6_371_000


def great_circle_m(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> int:
    """Haversine distance in whole metres (a plausibility check, never an amount)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(a)))


def _micro(value: int) -> Decimal:
    return Decimal(value) / Decimal(1_000_000)


@dataclass(frozen=True)
class Route:
    """The distance a trip is credited at, and what bounds it (kept in the claim's inputs)."""

    credited_m: int
    detail: dict[str, Any]


def check_trip(
    factors: FactorSet, graph: StationGraph, trip: TripEvidence, gps_legs_m: list[int]
) -> Route:
    """Refuse a trip whose mode, times, speed, distance or GPS legs are not plausible, and
    say the distance it is credited at: a rail tap (``network_distance``) at most the shortest
    path in the station graph; any other trip its reported distance, within the band of its
    straight line that the methodology allows."""
    mode = factors.modes.get(trip.mode)
    if mode is None or mode.evidence == "gps":
        raise UnknownMode(
            msg(
                "mode {mode!r} is not an operator mode of {version}",
                mode=trip.mode,
                version=factors.version,
            )
        )
    duration = trip.endedAt - trip.startedAt
    if duration <= 0:
        raise InvalidTripTimes(
            msg(
                "endedAt {endedAt} is not after startedAt {startedAt}",
                endedAt=trip.endedAt,
                startedAt=trip.startedAt,
            )
        )
    if mode.max_distance_m is not None and trip.distanceMeters > mode.max_distance_m:
        raise DistanceOverLimit(
            msg(
                "{distanceMeters} m in one {mode} record; {version} finds at most"
                " {max_distance_m} m plausible",
                distanceMeters=trip.distanceMeters,
                mode=trip.mode,
                version=factors.version,
                max_distance_m=mode.max_distance_m,
            ),
            reported_m=trip.distanceMeters,
            max_distance_m=mode.max_distance_m,
        )
    # km/h = (m / 1000) / (s / 3600); compared in integers.
    if trip.distanceMeters * 3600 > mode.max_speed_kmh * 1000 * duration:
        kmh = trip.distanceMeters * 3600 // (1000 * duration)
        raise ImpossibleSpeed(
            msg(
                "{distanceMeters} m in {duration} s is {kmh} km/h; "
                "{mode} tops out at {max_speed_kmh} km/h",
                distanceMeters=trip.distanceMeters,
                duration=duration,
                kmh=kmh,
                mode=trip.mode,
                max_speed_kmh=mode.max_speed_kmh,
            ),
            speed_kmh=kmh,
            max_speed_kmh=mode.max_speed_kmh,
        )
    route = Route(trip.distanceMeters, {})
    straight: int | None = None
    if mode.evidence == "tap":
        if not trip.fromStation or not trip.toStation:
            raise MissingTripData(
                msg("a {mode} trip needs its tap-in and tap-out stations", mode=trip.mode)
            )
        ends = []
        for code in (trip.fromStation, trip.toStation):
            station = graph.station(code)
            if station is None:
                raise UnknownStation(
                    msg("station {code!r} is not in the station registry", code=code)
                )
            ends.append(station)
        if trip.mode in factors.network_modes:
            network = graph.network_m(ends[0].code, ends[1].code)
            if network is None:
                raise NoNetworkRoute(
                    msg(
                        "the station graph {version} has no route from {start} to {end}",
                        version=graph.version,
                        start=ends[0].code,
                        end=ends[1].code,
                    )
                )
            credited = min(trip.distanceMeters, network)
            return _legs_checked(
                factors,
                mode.evidence,
                gps_legs_m,
                Route(
                    credited,
                    {
                        "from": ends[0].code,
                        "to": ends[1].code,
                        "network_m": network,
                        "reported_m": trip.distanceMeters,
                        "graph": graph.hash_hex,
                        "graph_version": graph.version,
                    },
                ),
            )
        straight = great_circle_m(ends[0].lat, ends[0].lon, ends[1].lat, ends[1].lon)
    elif mode.evidence == "ride":
        if not (trip.startLat or trip.startLon) or not (trip.endLat or trip.endLon):
            raise MissingTripData(
                msg("a {mode} ride needs its start and end coordinates", mode=trip.mode)
            )
        straight = great_circle_m(
            _micro(trip.startLat), _micro(trip.startLon), _micro(trip.endLat), _micro(trip.endLon)
        )
    if straight is not None:
        low = Decimal(straight) * factors.station_min_ratio
        high = Decimal(straight) * factors.station_max_ratio
        if not low <= trip.distanceMeters <= high:
            raise DistanceMismatch(
                msg(
                    "{distanceMeters} m reported; the straight line is {straight} m, "
                    "so {low}..{high} m is plausible",
                    distanceMeters=trip.distanceMeters,
                    straight=straight,
                    low=int(low),
                    high=int(high),
                ),
                reported_m=trip.distanceMeters,
                straight_line_m=straight,
            )
    return _legs_checked(factors, mode.evidence, gps_legs_m, route)


def _legs_checked(factors: FactorSet, evidence: str, gps_legs_m: list[int], route: Route) -> Route:
    if gps_legs_m:
        if evidence != "tap":
            raise GpsLegsNotAllowed("walking legs count only to and from a transit stop")
        if len(gps_legs_m) > factors.gps_max_legs:
            raise GpsLegOverCap(
                msg("at most {gps_max_legs} GPS legs per trip", gps_max_legs=factors.gps_max_legs)
            )
        for leg in gps_legs_m:
            if leg > factors.gps_leg_cap_m:
                raise GpsLegOverCap(
                    msg(
                        "a GPS leg of {leg} m exceeds the {gps_leg_cap_m} m cap",
                        leg=leg,
                        gps_leg_cap_m=factors.gps_leg_cap_m,
                    ),
                    leg_m=leg,
                    cap_m=factors.gps_leg_cap_m,
                )
    return route
