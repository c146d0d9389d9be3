"""Citizens and businesses sign up in the app and are verified at a verifier's desk.

The desks compute each uniqueness key on their side (from the national ID or the business
registration number and the pepper), as a real desk does; the API never sees the ID itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.demo.city import BUSINESSES, birth_date, national_id, person_name, phone
from api.demo.day import Day, Person
from crda_client import Client, ProblemError
from identity.uniqueness import uniqueness_key


# The citizens and businesses were checked at their desks 6 days and 20 hours ago: before the
# earliest activity the demo dates (5 days before yesterday's local midnight, from 06:30), and
# within the 7 days a verifier may date a check back. Only activities after it earn.
def checked_at() -> str:
    return (datetime.now(UTC) - timedelta(days=6, hours=20)).isoformat()


@dataclass(frozen=True)
class Businesses:
    """The verified businesses and the won each deposited for buying (by account id)."""

    members: list[Person]
    deposits: dict[str, int]


def verify_citizens(day: Day, desks: list[Person]) -> list[Person]:
    """Citizens sign up in the app and are verified at a desk (one chain attestation each)."""
    s = day.sizes
    pepper = day.settings.uniqueness_pepper.get_secret_value()
    profiles = [
        (
            i,
            person_name(day.rng),
            phone(day.rng),
            birth_date(day.rng),
            national_id(day.rng, day.tag, i),
        )
        for i in range(s.citizens)
    ]
    duplicates = max(1, s.citizens // 100) if s.citizens else 0
    task = day.progress.add_task("citizens verified", total=s.citizens + duplicates)

    def verify(profile: tuple[int, str, str, str, str]) -> Person:
        i, name, phone_number, birth, national = profile
        person = day.sign_up(f"citizen{i}", name, phone=phone_number, birth_date=birth)
        desk = desks[i % len(desks)]
        key = uniqueness_key(national, pepper)
        desk.call(
            Client.issue_credential,
            person.account_id,
            assurance_level=2,
            uniqueness_key=key,
            verified_at=checked_at(),
        )
        person.address = person.call(Client.get_wallet)["address"]
        return person

    citizens: list[Person] = day.parallel(profiles, verify, lambda: day.progress.advance(task))
    day.report.citizens_verified = len(citizens)
    # Someone tries a second account with a verified neighbour's national ID.
    for n in range(duplicates):
        national = profiles[day.rng.randrange(len(profiles))][4]
        impostor = day.sign_up(f"impostor{n}", person_name(day.rng))
        key = uniqueness_key(national, pepper)
        try:
            desks[0].call(
                Client.issue_credential,
                impostor.account_id,
                assurance_level=2,
                uniqueness_key=key,
            )
            day.report.notes.append("a second identity for one national ID was accepted!")
        except ProblemError as exc:
            if exc.slug == "duplicate-identity":
                day.report.duplicate_identities_refused += 1
            else:
                day.report.refused[f"identity:{exc.slug}"] += 1
        day.progress.advance(task)
    return citizens


def verify_businesses(day: Day, desks: list[Person], operator: Person) -> Businesses:
    """Businesses sign up, are verified as organisations and deposit won for buying."""
    s = day.sizes
    task = day.progress.add_task("businesses verified, won deposited", total=s.businesses)
    pepper = day.settings.uniqueness_pepper.get_secret_value()
    members: list[Person] = []
    deposits: dict[str, int] = {}
    for i in range(s.businesses):
        name = BUSINESSES[i % len(BUSINESSES)]
        business = day.sign_up(f"business{i}", name, role="business")
        registration = f"BRN-{day.tag}-{i:03d}"  # the business registration number
        key = uniqueness_key(registration, pepper)
        desk = desks[i % len(desks)]
        desk.call(
            Client.issue_credential, business.account_id, assurance_level=3, uniqueness_key=key
        )
        business.address = business.call(Client.get_wallet)["address"]
        amount = day.rng.choice((500_000, 1_000_000, 2_000_000))
        reference = f"bank-transfer-{day.tag}-{i:03d}"
        operator.call(
            Client.deposit, business.account_id, amount, reference, idempotency_key=reference
        )
        deposits[business.account_id] = amount
        members.append(business)
        day.progress.advance(task)
    day.report.businesses_verified = len(members)
    return Businesses(members, deposits)
