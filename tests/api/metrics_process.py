"""One API process in prometheus_client's multiprocess mode (tests/api/test_metrics.py).

``python -m tests.api.metrics_process ROLE REQUESTS MARKS DATABASE_URL`` with
``PROMETHEUS_MULTIPROC_DIR`` set: waits until every process of the test is up (a file per
process in MARKS), answers REQUESTS requests to ``/healthz`` and to a path that does not exist,
and says so (``ROLE.done``). The ``scraper`` then waits for the ``writer`` to be done and
writes its own ``/metrics`` to MARKS/scrape.txt: it must add up both processes' requests.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Environment, Settings

ROLES = ("writer", "scraper")


def wait_for(path: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path.name} never appeared")
        time.sleep(0.01)


def main() -> None:
    role, requests, marks, database_url = (
        sys.argv[1],
        int(sys.argv[2]),
        Path(sys.argv[3]),
        sys.argv[4],
    )
    settings = Settings(
        environment=Environment.test,
        database_url=database_url,
        rpc_url="http://127.0.0.1:1",  # no node: readiness says so, quickly
        check_chain_on_start=False,
        run_workers=False,
        indexer_enabled=False,
    )
    app = create_app(settings)
    (marks / f"{role}.up").touch()
    for other in ROLES:
        wait_for(marks / f"{other}.up")
    client = TestClient(app)  # no lifespan: these two routes need no database
    for _ in range(requests):
        assert client.get("/healthz").status_code == 200
        assert client.get("/no/such/place").status_code == 404
    (marks / f"{role}.done").touch()
    if role == "scraper":
        wait_for(marks / "writer.done")
        with TestClient(app) as scraping:
            answer = scraping.get("/metrics")
        assert answer.status_code == 200, answer.text
        (marks / "scrape.txt").write_text(answer.text)


if __name__ == "__main__":
    main()
