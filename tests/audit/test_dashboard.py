"""The auditor's dashboard in a real headless browser (Debian's chromium) against a live app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from tests.audit.conftest import Activity, AuditWorld
from tests.browser import ARTIFACTS, chromium, serve
from tests.conftest import increase_time

# A page drawn from queries tested on both databases (tests/audit): the first pass only.
pytestmark = [pytest.mark.chain, pytest.mark.any_database]


@pytest.fixture
def live(audit_world: AuditWorld) -> Iterator[str]:
    """The app served live on the audit world's database."""
    with serve(create_app(audit_world.settings)) as base:
        yield base


def test_the_dashboard_draws_live_data_in_a_headless_browser(
    audit_world: AuditWorld, activity: Activity, live: str, tmp_path: Path
) -> None:
    aw = audit_world
    a = aw.platform.accounts
    # A week of activity: a batch or two a day, transfers and retirements.
    for day in range(6):
        activity.issue(a.alice.address, a.bob.address, amount=2_000 + 700 * day)
        if day % 2:
            activity.issue(a.carol.address, amount=1_500)
        activity.transfer(a.alice, a.bob.address, 300 + day)
        activity.retire(a.bob, 400 + 150 * day, reason=f"Commute offset, week {day + 1}")
        increase_time(aw.platform.chain, 86_400)
    aw.index()
    auditor = aw.auditor()

    url = f"{live}/dashboard#token={auditor.access}"
    dom = chromium(tmp_path, "--dump-dom", url)
    assert 'data-loaded="true"' in dom, dom[-3000:]
    supply = re.search(r'id="supply-chart"[^>]*data-points="(\d+)"', dom)
    assert supply and int(supply.group(1)) >= 10
    assert len(re.findall(r'class="series"', dom)) == 3
    bars = re.search(r'id="issuance-chart"[^>]*data-bars="(\d+)"', dom)
    assert bars and int(bars.group(1)) >= 6
    assert len(re.findall(r'class="bar"', dom)) >= 6 + 6  # a day's issuance, its retirements
    assert "all checks pass" in dom
    # Direct mints (no trading ledger entries, no trades): nothing to disagree about.
    assert "No trades settled yet" in dom and "ledger and chain agree" in dom
    assert "other" in dom  # batches minted outside earning have no activity records
    assert "Commute offset, week 6" in dom

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    chromium(tmp_path, f"--screenshot={screenshot}", url)
    assert screenshot.stat().st_size > 20_000


def test_the_dashboard_without_a_token_asks_to_sign_in(live: str, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", f"{live}/dashboard")
    assert "Auditor sign-in" in dom
    assert 'id="app" hidden' in dom
