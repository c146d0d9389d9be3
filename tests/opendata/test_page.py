"""The open-data page in a real headless browser (Debian's chromium) against a live app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.browser import ARTIFACTS, chromium, serve
from tests.opendata.conftest import City

# A page drawn from queries tested on both databases (test_open_data.py): the first pass only.
pytestmark = pytest.mark.any_database


@pytest.fixture
def live(city_app: FastAPI) -> Iterator[str]:
    with serve(city_app) as base:
        yield base


def test_the_open_data_page_draws_the_city_in_a_headless_browser(
    city: City, live: str, tmp_path: Path
) -> None:
    url = f"{live}/open-data?period=week"
    dom = chromium(tmp_path, "--dump-dom", url)
    week = re.search(r'id="latest" data-period="([^"]+)"', dom)
    assert (
        week
        and week.group(1) == f"{city.monday.isocalendar()[0]}-W{city.monday.isocalendar()[1]:02d}"
    )
    # By district: Namdong-gu's bar, and hatched stubs for the small and empty districts.
    district = re.search(r'id="district-chart"[^>]*data-bars="(\d+)" data-suppressed="(\d+)"', dom)
    assert district and (int(district.group(1)), int(district.group(2))) == (1, 13)
    mode = re.search(r'id="mode-chart"[^>]*data-bars="(\d+)"', dom)
    # Subway; the bus week is its Monday alone, hidden that day beside the 3 dairy buyers.
    assert mode and int(mode.group(1)) == 1
    assert "Ongjin-gun" in dom and "suppressed" in dom
    assert "공공누리 제1유형: 출처표시" in dom and 'rel="license"' in dom
    assert "/open-data/activities?period=week&amp;by=district&amp;format=csv" in dom

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "open-data.png"
    screenshot.unlink(missing_ok=True)
    chromium(tmp_path, f"--screenshot={screenshot}", url)
    assert screenshot.stat().st_size > 20_000
