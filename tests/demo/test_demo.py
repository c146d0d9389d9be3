"""``crda demo`` with tiny sizes against a real API served over HTTP (uvicorn on a free port),
its own devnet and database, with the workers and the indexer running as ``crda up`` runs them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from rich.console import Console

from api.app import create_app
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.devnet import Devnet
from api.demo import Demo, Sizes, print_report
from api.demo.activities import FRAUDS
from api.migrate import upgrade
from api.settings import Environment, Settings
from crda_client import Client
from tests.metrics import scrape, total, value

pytestmark = pytest.mark.timeout(180)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def platform(
    fresh_devnet: Devnet, compiled: dict, tmp_path: Path
) -> Iterator[tuple[str, Settings]]:
    """What ``make up`` gives: contracts, a migrated database, the API with its workers."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        environment=Environment.test,
        rpc_url=fresh_devnet.rpc_url,
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
        deployments_dir=tmp_path / "deployments",
        api_port=port,
        public_url=base,
        receipt_poll_interval=0.01,
        issuance_batch_max_wait=0.5,
        indexer_poll_interval=0.2,
        # A day of the city from one address (as `crda up` runs it).
        rate_limits_enabled=False,
    )
    ensure_deployed(
        settings,
        Artifacts.from_compiled(compiled),
        digest=compiled["digest"],
        compiler=compiled["compiler"],
    )
    upgrade(settings.database_url)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield base, settings
    server.should_exit = True
    thread.join(timeout=15)


def test_a_small_day_in_the_city_is_seeded_over_http(platform: tuple[str, Settings]) -> None:
    base, settings = platform
    sizes = Sizes(citizens=4, activities=30, verifiers=2, merchants=2, mobility=4, businesses=2)
    out = Console(record=True, width=120)
    http = httpx.Client(base_url=base, timeout=60)  # kept open: the test reads with it after
    demo = Demo(settings, base, sizes, seed=7, workers=4, console=out, poll_timeout=60, http=http)
    before = scrape(http)
    report = demo.run()
    after = scrape(http)
    print_report(report, out)
    text = out.export_text()

    # Everyone was verified; the impostor with a neighbour's national ID was not.
    assert report.citizens_verified == 4
    assert report.businesses_verified == 2
    assert report.duplicate_identities_refused == 1

    # Activities: most accepted; every fraud attempt refused, each with its own reason.
    assert sum(report.accepted.values()) > 0
    assert report.fraud_attempts >= len(FRAUDS)
    assert report.fraud_refused == report.fraud_attempts
    for slug in FRAUDS:
        assert report.refused[slug] >= 1, (slug, report.refused)
    assert report.submitted == sum(report.accepted.values()) + sum(report.refused.values())

    # Credits issued: every accepted claim, and the sum the citizens' claim lists show.
    assert report.claims_pending == 0
    assert report.claims_issued == sum(report.accepted.values())
    assert report.credits_issued_g > 0
    issued = 0
    for citizen in demo.citizens:
        page = citizen.client.claims(limit=200)
        issued += sum(c["amount_grams"] for c in page["items"] if c["status"] == "issued")
    assert issued == report.credits_issued_g
    # ... and the chain's supply as the auditor's index has it (a fresh chain: nothing else).
    assert int(report.supply["issued"]) == report.credits_issued_g

    # The market: at least one trade settled on chain.
    assert report.trades >= 1 and report.traded_g >= 1000 and report.traded_won > 0
    assert not report.market_refused, report.market_refused

    # Retirements: a business among them; its certificate verifies publicly (no sign-in).
    assert report.business_retirements >= 1
    assert int(report.supply["retired"]) == report.retired_g
    certificate = report.featured()
    assert certificate is not None and certificate.business
    anyone = Client(base)
    public = anyone.certificate(certificate.serial)
    assert public["status"] == "confirmed" and public["amount"] == certificate.amount
    check = anyone.verify_certificate(
        certificate.serial,
        amount=public["amount"],
        beneficiary_hash=public["beneficiary_hash"],
        tx_hash=public["tx_hash"],
    )
    assert check["verified"] is True, check["reasons"]
    assert anyone.certificate_qr(certificate.serial).startswith(b"\x89PNG")
    assert certificate.verification_url.startswith(f"{base}/certificates/{certificate.serial}/")

    # The summary says where to look.
    assert f"{base}/dashboard" in text and "mobile_api_docs" in text
    assert f"/certificates/{certificate.serial}/qr" in text
    assert not report.notes, report.notes

    # The operations view moved with the day: every fraud refusal counted by its type, the
    # outbox drained, claims minted with their lag observed, the loops beating.
    for slug in FRAUDS:
        counted = total(after, "crda_problems_total", type=slug)
        assert counted - total(before, "crda_problems_total", type=slug) >= report.refused[slug]
    assert total(after, "crda_outbox_rows", status="pending") == 0
    assert total(after, "crda_outbox_rows", status="sent") == 0
    assert value(after, "crda_claims_awaiting_issuance") == 0
    lag = "crda_issuance_lag_seconds_count"
    assert value(after, lag) - value(before, lag) >= report.claims_issued > 0
    for loop in ("worker", "indexer"):
        assert value(after, "crda_heartbeat_timestamp_seconds", loop=loop) > 0
    http.close()
