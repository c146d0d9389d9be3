"""``crda chaos``, short and seeded: two APIs, a worker and the indexer as processes on
PostgreSQL and a devnet of their own, a few hundred operations over HTTP, a few SIGKILLs; every
invariant checked at the end (the full run, 10,000 operations and 50 kills, is run by hand)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bench.chaos import DEFAULT_SERVER, ChaosOptions, run_chaos

# It needs PostgreSQL: it runs in the PostgreSQL pass (once), not in the SQLite one.
pytestmark = [pytest.mark.timeout(600), pytest.mark.postgres_pass]


def postgres_server() -> str:
    """The PostgreSQL server of the database tests (CI has one), or the local default."""
    configured = os.environ.get("CRDA_TEST_DATABASE_URL")
    url = (
        make_url(configured).set(database="postgres").render_as_string(hide_password=False)
        if configured
        else DEFAULT_SERVER
    )
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        pytest.skip(f"no PostgreSQL server at {url}: the chaos run needs one")
    finally:
        engine.dispose()
    return url


def test_a_short_chaos_run_keeps_every_invariant(tmp_path: Path) -> None:
    options = ChaosOptions(
        operations=200,
        kills=4,
        seed=7,
        database_url=postgres_server(),
        citizens=6,
        businesses=2,
        concurrency=6,
        settle_timeout=240,
        run_dir=tmp_path,
    )
    report = run_chaos(options, Console(record=True, width=120))
    summary = json.dumps(report.to_json(), indent=1, default=str)
    assert report.ok, summary
    assert sum(report.kills.values()) == 4, summary
    assert sum(report.operations.values()) >= 200, summary
    # The bursts reached the caps and the overlap rule: refused, not credited.
    assert report.outcomes["cap-burst"]["daily-cap-reached"] > 0, summary
    assert report.figures["claims"] > 0, summary
