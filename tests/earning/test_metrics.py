"""``/metrics`` moves when a citizen earns: requests, refusals by type, the outbox row that
appears and drains, the issuance lag, chain RPCs, heartbeats, the indexer's lag and the last
reconciliation, all read through prometheus_client's own parser."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.audit.indexer import Indexer
from api.auth.models import Role
from api.chain.gateway import ChainGateway, NonceManager
from api.earning.issuance import KIND
from api.operations import STATE_METRICS
from api.settings import Settings
from api.tasks import make_worker
from tests.conftest import Accounts
from tests.earning.conftest import Partners
from tests.metrics import names, scrape, value
from tests.people import People
from tests.world import assert_problem

pytestmark = pytest.mark.chain


def test_metrics_move_when_a_citizen_earns(
    earning_settings: Settings,
    chain: ChainGateway,
    deployment: object,
    partners: Partners,
    verified: Accounts,
) -> None:
    chain.nonces = NonceManager(chain.w3)
    started = time.time()
    # No worker thread: the test runs its rounds itself, so the pending row can be seen.
    settings = earning_settings.model_copy(update={"run_workers": False})
    with TestClient(create_app(settings)) as client:
        state = client.app.state.crda  # type: ignore[attr-defined]
        people = People(settings, state.sessions)
        alice = verified.alice.address
        me = people.holder(alice)
        before = scrape(client)
        assert value(before, "crda_ready") == 1
        assert value(before, "crda_outbox_rows", kind=KIND, status="pending") == 0

        evidence, signature = partners.receipt(alice)
        body = {"evidence": evidence.model_dump(), "signature": signature}
        assert client.post("/earning/purchases", json=body, headers=me).status_code == 201
        # The same receipt again: a fraud signal, counted by its problem type.
        assert_problem(
            client.post("/earning/purchases", json=body, headers=me), 409, "duplicate-evidence"
        )
        assert_problem(client.get("/no/such/place"), 404, "not-found")

        worker = make_worker(settings, state.sessions, state.chain_gateway())
        for task in worker.tasks:  # the batcher: the claim -> a batch and its outbox row
            task()
        waiting = scrape(client)
        assert value(waiting, "crda_outbox_rows", kind=KIND, status="pending") == 1
        assert value(waiting, "crda_outbox_oldest_age_seconds", kind=KIND) >= 0
        assert value(waiting, "crda_claims_awaiting_issuance") == 1

        worker.drain()
        Indexer.from_settings(settings, state.sessions).run()
        auditor = people.staff(Role.auditor)
        assert client.get("/audit/reconciliation", headers=auditor).json()["ok"] is True
        after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    submissions = {"method": "POST", "route": "/earning/purchases"}
    assert moved("crda_http_requests_total", **submissions, status="201") == 1
    assert moved("crda_http_requests_total", **submissions, status="409") == 1
    assert moved("crda_http_request_duration_seconds_count", **submissions) == 2
    assert moved("crda_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert moved("crda_problems_total", type="duplicate-evidence", status="409") == 1
    assert moved("crda_problems_total", type="not-found", status="404") == 1
    # The outbox row drained, the claim was minted, and how long that took was observed.
    assert value(after, "crda_outbox_rows", kind=KIND, status="pending") == 0
    assert value(after, "crda_outbox_rows", kind=KIND, status="sent") == 0
    assert value(after, "crda_outbox_oldest_age_seconds", kind=KIND) == 0
    assert value(after, "crda_claims_awaiting_issuance") == 0
    assert moved("crda_issuance_lag_seconds_count") == 1
    assert (
        moved("crda_chain_rpc_requests_total", method="eth_sendRawTransaction", outcome="ok") >= 1
    )
    assert moved("crda_chain_rpc_duration_seconds_count", method="eth_sendRawTransaction") >= 1
    for loop in ("worker", "indexer"):
        assert value(after, "crda_heartbeat_timestamp_seconds", loop=loop) >= started
    assert value(after, "crda_indexer_lag_blocks") == 0
    assert value(after, "crda_indexer_checkpoint_block") == value(after, "crda_chain_head_block")
    assert value(after, "crda_reconciliation_differences") == 0
    assert value(after, "crda_reconciliation_last_run_timestamp_seconds") >= started
    # Every figure the collector reads from the database and the node was there.
    assert set(STATE_METRICS) <= names(after)
