"""The operator and the auditor: made directly in the database, then signed in over HTTP.

Nobody signs up as staff through the API, so the demo does what ``crda identity create-staff``
does (``create_account``), as a real deployment does for its first operator and auditor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from api.auth.models import Account as AccountRow
from api.auth.models import Role
from api.auth.service import create_account, normalise_email
from api.db import make_engine, make_session_factory
from api.demo.day import AUDITOR_EMAIL, OPERATOR_EMAIL, PASSWORD, Day, DemoError, Person
from api.settings import Settings
from crda_client import ProblemError


@dataclass(frozen=True)
class Staff:
    """The platform's own people, signed in."""

    operator: Person
    auditor: Person


def ensure_staff(settings: Settings, email: str, role: Literal["operator", "auditor"]) -> None:
    """The operator or auditor account, made in the database if it does not exist yet.

    Staff cannot sign up through the API, so this uses ``create_account`` exactly as
    ``crda identity create-staff`` does; an existing account of that email is reused.
    """
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            found = session.scalar(
                select(AccountRow).where(AccountRow.email == normalise_email(email))
            )
            if found is None:
                create_account(session, settings, email=email, password=PASSWORD, role=Role(role))
    except SQLAlchemyError as exc:
        raise DemoError(
            f"cannot make the {role} account in {settings.database_url}: {exc.__class__.__name__}"
            " (run the demo with the API's CRDA_DATABASE_URL, after `make up`)"
        ) from exc
    finally:
        engine.dispose()


def sign_in_staff(day: Day, step: Callable[[], None]) -> Staff:
    """The operator and auditor accounts made if missing, then signed in (``step`` after each)."""
    ensure_staff(day.settings, OPERATOR_EMAIL, "operator")
    ensure_staff(day.settings, AUDITOR_EMAIL, "auditor")
    try:
        operator = day.signed_in(OPERATOR_EMAIL, "City platform team")
        step()
        auditor = day.signed_in(AUDITOR_EMAIL, "City audit office")
        step()
    except ProblemError as exc:
        raise DemoError(
            f"the staff accounts made in {day.settings.database_url} cannot sign in at "
            f"{day.base_url} ({exc.slug}): run the demo with the API's CRDA_DATABASE_URL"
        ) from exc
    return Staff(operator, auditor)
