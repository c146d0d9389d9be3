"""The end of the day: businesses and a few citizens retire credits and show a certificate
anyone can check; the auditor's index reads the day's supply from the chain.
"""

from __future__ import annotations

from typing import Any

from api.demo.day import Day, Person
from api.demo.people import Businesses
from api.demo.report import Certificate
from crda_client import Client, ProblemError


def retirements(
    day: Day,
    citizens: list[Person],
    businesses: Businesses,
    issued: dict[str, int],
    bought: dict[str, int],
) -> None:
    """Businesses retire most of what they bought; a few citizens retire some of theirs."""
    jobs: list[tuple[Person, int, str, str, bool]] = []
    for business in businesses.members:
        grams = bought.get(business.account_id, 0) * day.rng.randint(60, 90) // 100
        if grams > 0:
            jobs.append(
                (
                    business,
                    grams,
                    business.name,
                    "Scope 3: employee commuting, November 2026",
                    True,
                )
            )
    rich_citizens = sorted(citizens, key=lambda c: -issued.get(c.account_id, 0))
    for person in rich_citizens[: day.sizes.citizen_retirements]:
        grams = min(issued.get(person.account_id, 0) // 4, 1500)
        if grams > 0:
            jobs.append((person, grams, person.name, "My own footprint: heating, 2026", False))
    task = day.progress.add_task("retirements and certificates", total=len(jobs))

    def retire(job: tuple[Person, int, str, str, bool]) -> None:
        holder, grams, beneficiary, reason, publish = job
        try:
            pending = holder.call(
                Client.retire,
                grams,
                beneficiary,
                reason,
                publish_beneficiary=publish,
                idempotency_key=f"retire-{day.tag}-{holder.account_id}",
            )
        except ProblemError as exc:
            with day.report_lock:
                day.report.refused[f"retirement:{exc.slug}"] += 1
            return
        found: dict[str, Any] = {}

        def confirmed() -> bool:
            found.update(holder.call(Client.my_retirement, pending["id"]))
            return found.get("status") in ("confirmed", "failed")

        day.wait(f"retirement {pending['id']}", confirmed, 120)
        if found.get("status") != "confirmed" or found.get("serial") is None:
            with day.report_lock:
                day.report.refused[f"retirement:{found.get('error_name') or 'pending'}"] += 1
            return
        serial = int(found["serial"])
        check = day.client().verify_certificate(
            serial,
            amount=found["amount"],
            beneficiary_hash=found["beneficiary_hash"],
            tx_hash=found["tx_hash"],
        )
        certificate = Certificate(
            serial=serial,
            amount=int(found["amount"]),
            holder_name=beneficiary,
            verification_url=str(found.get("verification_url") or ""),
            qr_url=f"{day.base_url}/certificates/{serial}/qr",
            page_url=f"{day.base_url}/certificates/{serial}/page",
            verified=bool(check["verified"]),
            business=any(holder is b for b in businesses.members),
        )
        with day.report_lock:
            day.report.retirements += 1
            day.report.business_retirements += certificate.business
            day.report.retired_g += grams
            day.report.certificates.append(certificate)

    day.parallel(jobs, retire, lambda: day.progress.advance(task))
    day.report.certificates.sort(key=lambda c: c.serial)


def read_supply(day: Day, auditor: Person) -> None:
    """The auditor's view of the supply, once the index has caught up with the day."""
    summary: dict[str, Any] = {}

    def caught_up() -> bool:
        summary.update(auditor.call(Client.audit_summary))
        supply = summary["supply"]
        return (
            int(supply["issued"]) >= day.report.credits_issued_g
            and int(supply["retired"]) >= day.report.retired_g
        )

    try:
        day.wait("the auditor's index", caught_up, 30)
        day.report.supply = dict(summary["supply"])
    except ProblemError as exc:
        day.report.notes.append(f"the auditor's summary was not available ({exc.slug})")
