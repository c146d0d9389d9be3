"""Open data: the city's public, read-only statistics (JSON and CSV downloads) and its page.

No sign-in: everything here is published under the Korea Open Government Licence, type 1
(attribution). Only fixed buckets and fixed breakdowns can be asked for (``service.py`` says
why); every answer carries the licence (a ``license`` member, a CSV comment line and a
``Link: <...>; rel="license"`` header).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from api.deps import SessionDep, SettingsDep
from api.opendata import page, service
from api.opendata.schemas import (
    LICENSE_NAME,
    LICENSE_NAME_EN,
    LICENSE_URL,
    ActivitiesPublic,
    ActivityCell,
    CreditCell,
    CreditsPublic,
)
from api.opendata.service import Breakdown, Period
from api.timeutil import utcnow

router = APIRouter(prefix="/open-data", tags=["open-data"])
page_router = APIRouter(tags=["open-data"])

Format = Literal["json", "csv"]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
LINK = f'<{LICENSE_URL}>; rel="license"'
_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {}},
        "headers": {"Link": {"description": 'The licence: <url>; rel="license".'}},
    }
}

PeriodQuery = Annotated[Period, Query(description="Calendar day, ISO week or month (Asia/Seoul).")]
ByQuery = Annotated[
    Breakdown, Query(description="District (gu, gun, IFEZ zone), trip mode or product category.")
]
FormatQuery = Annotated[
    Format, Query(description="JSON (the default) or CSV with a licence comment line.")
]


def _csv(
    name: str, key_column: str, cell: type[BaseModel], cells: Iterable[tuple[str, BaseModel]]
) -> Response:
    """A download: the licence comment line, a header (``period``, the cell's fields with
    ``key`` named ``key_column``), a row per (bucket period, cell); suppressed values blank."""
    fields = list(cell.model_fields)
    buffer = io.StringIO()
    buffer.write(f"# {LICENSE_NAME} ({LICENSE_NAME_EN}) {LICENSE_URL}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["period", *(key_column if f == "key" else f for f in fields)])
    writer.writerows([period, *(_value(getattr(c, f)) for f in fields)] for period, c in cells)
    return Response(
        buffer.getvalue(),
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Link": LINK,
            "Content-Disposition": f'attachment; filename="incheon-{name}.csv"',
        },
    )


def _value(value: Any) -> Any:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else value


@router.get("/activities", responses=_DOWNLOAD)
def activities(
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    period: PeriodQuery = "day",
    by: ByQuery = "district",
    format: FormatQuery = "json",
) -> ActivitiesPublic:
    """CO2e avoided (grams), accepted activities and distinct participants per ended bucket,
    by district, trip mode or product category; cells of fewer than k citizens suppressed."""
    buckets = service.activities(session, settings, utcnow(), period, by)
    body = ActivitiesPublic.of(period, by, settings.open_data_min_citizens, buckets)
    if format == "csv":
        cells = ((b.period, c) for b in body.buckets for c in [*b.cells, b.total])
        return _csv(f"activities-{by}-{period}", by, ActivityCell, cells)  # type: ignore[return-value]
    response.headers["Link"] = LINK
    return body


@router.get("/credits", responses=_DOWNLOAD)
def credits(
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    period: PeriodQuery = "day",
    format: FormatQuery = "json",
) -> CreditsPublic:
    """Credits issued, traded and retired city-wide per ended bucket (grams, counts, won paid
    for trades, distinct participants); cells of fewer than k citizens suppressed."""
    buckets = service.credits(session, settings, utcnow(), period)
    body = CreditsPublic.of(period, settings.open_data_min_citizens, buckets)
    if format == "csv":
        cells = ((b.period, c) for b in body.buckets for c in b.cells)
        return _csv(f"credits-{period}", "flow", CreditCell, cells)  # type: ignore[return-value]
    response.headers["Link"] = LINK
    return body


@page_router.get("/open-data", response_class=HTMLResponse, include_in_schema=False)
def open_data_page(
    session: SessionDep, settings: SettingsDep, period: PeriodQuery = "day"
) -> HTMLResponse:
    """The city's open-data page: the latest ended bucket by district, mode and category, the
    city's CO2e over time, and the credits; charts as inline SVG drawn here (no script)."""
    now = utcnow()
    k = settings.open_data_min_citizens
    views = {
        by: ActivitiesPublic.of(
            period, by, k, service.activities(session, settings, now, period, by)
        )
        for by in service.BREAKDOWNS
    }
    flows = CreditsPublic.of(period, k, service.credits(session, settings, now, period))
    return HTMLResponse(page.render(period, views, flows), headers={"Link": LINK})
