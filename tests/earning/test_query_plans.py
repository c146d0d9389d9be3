"""No statement of the submission path or of the batcher scans a table (SQLite's plans).

A scan costs time in proportion to the stored claims: issue 18 measured ingestion falling 40 %
within 4,000 claims. Every statement a trip, a purchase and a batcher round send is captured
and explained; each must search an index. (PostgreSQL's planner scans tables this small on
purpose, and its plans at a million claims are checked by ``crda bench earning --preload``.)
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from api.earning import issuance, service
from api.earning.service import EarningContext
from tests.conftest import Accounts
from tests.earning.conftest import Partners

pytestmark = [
    pytest.mark.chain,
    pytest.mark.skipif(
        bool(os.environ.get("CRDA_TEST_DATABASE_URL")), reason="SQLite's query plans"
    ),
]

TABLES = ("claims", "earning_tallies", "earning_submissions", "provider_keys", "data_providers")


def test_submissions_and_the_batcher_search_indexes_never_scan(
    sessions: sessionmaker[Session], ctx: EarningContext, partners: Partners, verified: Accounts
) -> None:
    alice = verified.alice.address
    engine = sessions.kw["bind"]
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        for signed, submit in (
            (partners.tap_trip(alice), service.submit_trip),
            (partners.receipt(alice), service.submit_purchase),
            (partners.tap_trip(alice, start=int(time.time()) - 7200), service.submit_trip),
        ):
            evidence, signature = signed
            with sessions() as session:
                submit(
                    session, ctx, citizen=alice, account_id="a", evidence=evidence,
                    signature=signature,
                )  # fmt: skip
        with sessions() as session:
            issuance.release_reverified(session, lambda holders: holders)
        with sessions() as session:
            issuance.form_batch(session, max_size=100, max_wait=0, force=True)
    finally:
        event.remove(engine, "before_cursor_execute", capture)

    assert any("activity_end" in s for s, _ in seen)  # the overlap check was among them
    scans, details = [], []
    with engine.connect() as connection:
        for statement, parameters in seen:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            for row in plan:
                detail = str(row[-1])
                details.append(detail)
                if detail.startswith("SCAN") and any(f" {t}" in detail for t in TABLES):
                    scans.append((detail, statement))
    assert scans == []
    # The overlap check reads only the trips that end after the new one starts, not all the
    # citizen's claims (a search on the beneficiary alone grows with the citizen's history).
    trips = "ix_claims_trips (beneficiary=? AND kind=? AND activity_end>?)"
    assert any(trips in d for d in details), details
