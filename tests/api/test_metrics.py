"""``/metrics``: who may read it, and prometheus_client's multiprocess mode over two real
processes. (What moves when a citizen earns: tests/earning/test_metrics.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from api.app import create_app
from api.settings import Environment, Settings
from tests.metrics import parse, value
from tests.world import assert_problem

ROOT = Path(__file__).resolve().parents[2]


def offline_settings(tmp_path: Path, **changes: object) -> Settings:
    """An API with no node and an empty database: /metrics still answers (not ready)."""
    settings = Settings(
        environment=Environment.test,
        database_url=f"sqlite:///{tmp_path / 'empty.db'}",
        rpc_url="http://127.0.0.1:1",
        check_chain_on_start=False,
        run_workers=False,
        indexer_enabled=False,
    )
    # model_copy does not validate: production without real keys, for the access rule only.
    return settings.model_copy(update=changes)


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[TestClient]:
    settings = offline_settings(tmp_path, metrics_token=SecretStr("scrape-me"))
    with TestClient(create_app(settings)) as client:
        yield client


def test_metrics_need_the_token_when_one_is_set(guarded: TestClient) -> None:
    assert_problem(guarded.get("/metrics"), 401, "unauthorized")
    wrong = {"Authorization": "Bearer scrape-you"}
    assert_problem(guarded.get("/metrics", headers=wrong), 401, "unauthorized")
    answer = guarded.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert answer.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    # No node, no tables: the API says it is not ready, and why, rather than failing.
    assert families["crda_ready"].samples[0].value == 0
    checks = {s.labels["check"]: s.value for s in families["crda_ready_check"].samples}
    assert checks["chain"] == 0
    assert "crda_outbox_rows" not in families  # the database could not be read
    # /metrics is an operator's tool, not part of the app's API.
    assert "/metrics" not in guarded.get("/openapi.json").json()["paths"]


def test_production_serves_metrics_only_with_a_token(tmp_path: Path) -> None:
    settings = offline_settings(tmp_path, environment=Environment.production)
    with TestClient(create_app(settings)) as client:
        body = assert_problem(client.get("/metrics"), 403, "forbidden")
    assert "CRDA_METRICS_TOKEN" in body["detail"]


def test_two_processes_count_into_one_scrape(tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR: two API processes answer requests at the same time; the
    /metrics of either adds up both."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared), "PYTHONPATH": str(ROOT)}
    requests = 25
    processes = {
        role: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.api.metrics_process",
                role,
                str(requests),
                str(tmp_path),
                f"sqlite:///{tmp_path / (role + '.db')}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role in ("writer", "scraper")
    }
    outputs = {role: p.communicate(timeout=300) for role, p in processes.items()}
    for role, p in processes.items():
        assert p.returncode == 0, outputs[role][1][-2000:]
    samples = parse((tmp_path / "scrape.txt").read_text())
    both = 2 * requests
    healthz = {"method": "GET", "route": "/healthz"}
    assert value(samples, "crda_http_requests_total", **healthz, status="200") == both
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(samples, "crda_http_requests_total", **unmatched) == both
    assert value(samples, "crda_http_request_duration_seconds_count", **healthz) == both
    assert value(samples, "crda_problems_total", type="not-found", status="404") == both
    # Each process wrote files of its own into the shared directory.
    assert len(list(shared.glob("counter_*.db"))) == 2
