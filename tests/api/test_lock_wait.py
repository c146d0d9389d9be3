"""A request that waits for a lock another transaction holds gets a bounded wait and then a
``database-busy`` 503 problem with ``Retry-After``, never a hang (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api import db
from api.app import create_app
from api.chain.deployments import Deployment
from api.settings import Settings


@contextmanager
def tables_locked(url: str) -> Iterator[None]:
    """Another transaction holding what a sign-up needs (SQLite: the write lock; PostgreSQL:
    the accounts table), until the block ends."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            sqlite = engine.dialect.name == "sqlite"
            connection.execute(text("BEGIN IMMEDIATE" if sqlite else "BEGIN"))
            if not sqlite:
                connection.execute(text("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                connection.execute(text("ROLLBACK"))
    finally:
        engine.dispose()


def test_a_request_waiting_on_a_lock_ends_in_a_503_with_retry_after(
    settings: Settings, deployment: Deployment, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 1)
    body = {
        "email": f"busy-{uuid.uuid4().hex[:8]}@example.org",
        "password": "a long enough password 2026",
        "role": "citizen",
        "name": "Busy Bee",
    }
    with TestClient(create_app(settings)) as client:
        with tables_locked(settings.database_url):
            response = client.post("/auth/sign-up", json=body)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == "/problems/database-busy"
        # Nothing was written: the same request succeeds once the lock is gone.
        assert client.post("/auth/sign-up", json=body).status_code == 201
