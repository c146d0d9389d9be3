"""SQLite runs WAL + synchronous=NORMAL (a commit survives a crash of the process), and a
transaction that must survive a power cut too (the outbox's signed transaction) asks for a
synced commit with ``durable``; the connection goes back to NORMAL for the next user."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from api.db import durable, make_engine, make_session_factory

NORMAL, FULL = 1, 2


def test_durable_syncs_one_transaction_then_the_connection_is_normal_again(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            assert session.scalar(text("PRAGMA journal_mode")) == "wal"
            assert session.scalar(text("PRAGMA synchronous")) == NORMAL
        with sessions() as session, session.begin():
            durable(session)
            assert session.scalar(text("PRAGMA synchronous")) == FULL
            session.execute(text("CREATE TABLE t (x INTEGER)"))
        with sessions() as session:  # the pool's one connection, back in the pool
            assert session.scalar(text("PRAGMA synchronous")) == NORMAL
            assert engine.pool.checkedout() == 1 and engine.pool.size() >= 1
    finally:
        engine.dispose()


def test_durable_after_a_write_is_refused_by_sqlite(tmp_path: Path) -> None:
    """Called too late it fails loudly (SQLite refuses to change it inside a transaction)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    sessions = make_session_factory(engine)
    try:
        with sessions() as session, pytest.raises(Exception, match="inside a transaction"):
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
            durable(session)
    finally:
        engine.dispose()
