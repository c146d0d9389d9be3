"""The city's open data over HTTP: published cells, suppressed ones, the licence, and an
attempt to re-identify the one citizen who shared an EV in Ongjin-gun (it fails)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.earning.districts import DISTRICTS
from api.earning.models import Claim, ClaimStatus
from api.opendata.schemas import LICENSE_NAME, LICENSE_URL
from api.opendata.service import BREAKDOWNS, PERIODS, bucket_of
from tests.opendata.conftest import City, citizen
from tests.world import assert_problem

pytestmark = pytest.mark.database

LINK = f'<{LICENSE_URL}>; rel="license"'


def get(client: TestClient, path: str, **query: str) -> dict[str, Any]:
    response = client.get(path, params=query)
    assert response.status_code == 200, response.text
    assert response.headers["link"] == LINK
    body: dict[str, Any] = response.json()
    return body


def bucket(body: dict[str, Any], label: str) -> dict[str, Any]:
    found = [b for b in body["buckets"] if b["period"] == label]
    assert len(found) == 1, [b["period"] for b in body["buckets"]]
    return found[0]


def cells(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in found["cells"]}


def shown(cell: dict[str, Any]) -> tuple[int, int, int]:
    assert cell["suppressed"] is False, cell
    return cell["co2e_g"], cell["activities"], cell["participants"]


def hidden(cell: dict[str, Any]) -> bool:
    """Suppressed, every figure null."""
    figures = [v for k, v in cell.items() if k not in {"key", "suppressed"}]
    return bool(cell["suppressed"]) and all(v is None for v in figures)


def test_the_city_week_is_published_with_small_cells_suppressed_and_no_one_singled_out(
    city: City, city_client: TestClient
) -> None:
    monday = city.monday.isoformat()
    tuesday = (city.monday + timedelta(days=1)).isoformat()

    by_district = get(city_client, "/open-data/activities", period="day", by="district")
    assert by_district["license"]["name"] == LICENSE_NAME == "공공누리 제1유형: 출처표시"
    assert by_district["suppression"]["min_citizens"] == 10
    assert [b["period"] for b in by_district["buckets"]] == [
        (city.monday + timedelta(days=n)).isoformat() for n in range(7)
    ]
    day = bucket(by_district, monday)
    districts = cells(day)
    assert list(districts) == [*DISTRICTS, "unassigned"]  # the fixed set, in order
    assert shown(districts["songdo"]) == (14 * 600, 14, 14)
    assert hidden(districts["bupyeong-gu"])  # 3 buyers
    # 12 bus riders, suppressed too: the total minus Songdo would give Bupyeong-gu's 3 away.
    assert hidden(districts["namdong-gu"])
    assert all(hidden(districts[d]) for d in ("jung-gu", "ongjin-gun", "unassigned"))  # none
    assert shown(day["total"]) == (14 * 600 + 12 * 400 + 3 * 1000, 29, 29)

    by_mode = cells(bucket(get(city_client, "/open-data/activities", by="mode"), monday))
    assert shown(by_mode["subway"]) == (8400, 14, 14)
    assert hidden(by_mode["bus"])  # complementary to the 3 dairy buyers
    by_category = get(city_client, "/open-data/activities", by="category")
    assert hidden(cells(bucket(by_category, monday))["dairy"])
    assert shown(cells(bucket(by_category, tuesday))["beverage"]) == (11 * 300, 11, 11)

    week = get(city_client, "/open-data/activities", period="week", by="district")
    (only,) = week["buckets"]
    assert only["period"] == bucket_of(city.monday, "week")
    weekly = cells(only)
    assert shown(weekly["namdong-gu"]) == (12 * 400 + 6 * 11 * 300, 12 + 6 * 11, 23)
    assert hidden(weekly["bupyeong-gu"]) and hidden(weekly["ongjin-gun"])
    # Bupyeong-gu's 3 and Ongjin-gun's 1 are 4 citizens: Songdo goes with them.
    assert hidden(weekly["songdo"])
    month = get(city_client, "/open-data/activities", period="month", by="mode")
    assert [b["period"] for b in month["buckets"]] == [bucket_of(city.monday, "month")]

    flows = get(city_client, "/open-data/credits", period="day")
    issued, traded, retired = bucket(flows, monday)["cells"]
    assert (issued["key"], issued["grams"], issued["count"], issued["participants"]) == (
        "issued",
        16_200,
        29,
        29,
    )
    assert hidden(traded) and hidden(retired)  # no trade, no retirement: nothing to show

    # Downloads: CSV with the licence on its first line and in the Link header.
    response = city_client.get("/open-data/activities", params={"by": "district", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["link"] == LINK
    first, *lines = response.text.splitlines()
    assert first.startswith(f"# {LICENSE_NAME}") and LICENSE_URL in first
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert rows[0].keys() == {
        "period",
        "district",
        "co2e_g",
        "activities",
        "participants",
        "suppressed",
    }
    songdo = next(r for r in rows if r["period"] == monday and r["district"] == "songdo")
    assert (songdo["co2e_g"], songdo["suppressed"]) == ("8400", "false")
    bupyeong = next(r for r in rows if r["period"] == monday and r["district"] == "bupyeong-gu")
    assert (bupyeong["co2e_g"], bupyeong["participants"], bupyeong["suppressed"]) == (
        "",
        "",
        "true",
    )
    credits_csv = city_client.get("/open-data/credits", params={"format": "csv"})
    assert credits_csv.headers["link"] == LINK
    assert credits_csv.text.startswith(f"# {LICENSE_NAME}")

    # Only the fixed buckets and breakdowns can be asked for.
    assert_problem(city_client.get("/open-data/activities?period=hour"), 422, "validation-error")
    assert_problem(city_client.get("/open-data/activities?by=citizen"), 422, "validation-error")

    # One test, one seeded database (a migration is the slow part): now the attacker.
    _try_to_single_out_the_target(city, city_client)

    # A day's issued credits wait until every claim of the day is on chain (and its week too).
    with city.sessions() as session:
        held = session.scalars(select(Claim).where(Claim.activity_day == city.monday)).first()
        assert held is not None
        held.status = ClaimStatus.held
        session.commit()
    for period, label in (("day", monday), ("week", bucket_of(city.monday, "week"))):
        issued = bucket(get(city_client, "/open-data/credits", period=period), label)["cells"][0]
        assert issued["key"] == "issued" and hidden(issued)


def _everything(client: TestClient) -> dict[str, Any]:
    published: dict[str, Any] = {}
    for period in PERIODS:
        for by in BREAKDOWNS:
            published[f"{period}/{by}"] = get(client, "/open-data/activities", period=period, by=by)
        published[f"{period}/credits"] = get(client, "/open-data/credits", period=period)
    return published


def _derived(published: dict[str, Any]) -> set[int]:
    """Every figure an attacker can get by subtraction: a bucket's total minus its published
    cells (per partition), and a week's or month's cell minus its published days."""
    found: set[int] = set()
    for period in PERIODS:
        district = published[f"{period}/district"]["buckets"]
        modes = published[f"{period}/mode"]["buckets"]
        categories = published[f"{period}/category"]["buckets"]
        for b_d, b_m, b_c in zip(district, modes, categories, strict=True):
            total = b_d["total"]["co2e_g"]
            if total is None:
                continue
            found.add(total - sum(c["co2e_g"] or 0 for c in b_d["cells"]))
            found.add(total - sum(c["co2e_g"] or 0 for c in b_m["cells"] + b_c["cells"]))
    days = {
        by: {b["period"]: cells(b) for b in published[f"day/{by}"]["buckets"]} for by in BREAKDOWNS
    }
    for period in ("week", "month"):
        for by in BREAKDOWNS:
            for coarse in published[f"{period}/{by}"]["buckets"]:
                for key, cell in cells(coarse).items():
                    if cell["co2e_g"] is None:
                        continue
                    under = [
                        day[key]["co2e_g"] or 0
                        for label, day in days[by].items()
                        if bucket_of(datetime.fromisoformat(label).date(), period)
                        == coarse["period"]
                    ]
                    found.add(cell["co2e_g"] - sum(under))
    return found


def _try_to_single_out_the_target(city: City, city_client: TestClient) -> None:
    published = _everything(city_client)
    # The citizen alone in Ongjin-gun by EV car-sharing is in no published cell...
    for period in PERIODS:
        for b in published[f"{period}/district"]["buckets"]:
            assert hidden(cells(b)["ongjin-gun"])
        for b in published[f"{period}/mode"]["buckets"]:
            assert hidden(cells(b)["ev_carshare"])
    # ...and no subtraction of published figures gives their 777 g (nor any other lone cell's).
    derived = _derived(published)
    assert city.target_grams not in derived
    assert not derived & {1000, 2000, 3000}  # the 3 dairy buyers, alone or together

    # Act now (today's bucket, not yet ended) in a new district by a new mode: nothing changes,
    # however often one asks, until the day ends (and then the cell is suppressed).
    now = datetime.now(UTC)
    city.add(city.target, now.date(), 999, district="ganghwa-gun", mode="scooter", at=now)
    city.add(citizen("newcomer"), now.date(), 500, district="ganghwa-gun", mode="bike", at=now)
    assert _everything(city_client) == published
