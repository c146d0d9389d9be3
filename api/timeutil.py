"""UTC instants everywhere (SQLite hands back naive datetimes: they are UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# A response field's instant: naive values (SQLite) are UTC, and always leave as RFC 3339 with
# an offset (``2026-11-23T12:34:48Z``), which the OpenAPI ``date-time`` format requires.
UtcDateTime = Annotated[datetime, AfterValidator(aware)]
