"""SQLAlchemy 2 engine, sessions and the declarative base.

SQLite is the embedded default (WAL, foreign keys on); any SQLAlchemy URL works, PostgreSQL in
production. The schema is owned by Alembic (``api/migrations``), never by ``create_all``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every model; constraint names are stable so migrations can name them."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# How long a statement waits for a lock another transaction holds before it gives up (the API
# answers a ``database-busy`` 503 with ``Retry-After``): PostgreSQL's ``lock_timeout``, SQLite's
# busy timeout. A wait, never a hang.
LOCK_WAIT_SECONDS = 30
SQLITE_MMAP_BYTES = 1 << 30
SQLITE_CACHE_KIB = 16 * 1024


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets its directory created and safe pragmas, every
    database a bounded lock wait (``LOCK_WAIT_SECONDS``)."""
    # At least as many connections as the server's worker threads (anyio's default: 40), so a
    # request holding one never waits on threads that are themselves waiting for one.
    kwargs: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": 20,
        "max_overflow": 30,
        "pool_timeout": 30,
    }
    if url.startswith("sqlite"):
        # A file, not a server: no connection goes stale, and a ping per checkout (a
        # `SELECT 1`) was a few per cent of a cheap read's time (issue 18's profile).
        kwargs["pool_pre_ping"] = False
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": LOCK_WAIT_SECONDS}
    elif url.startswith("postgresql"):
        kwargs["connect_args"] = {"options": f"-c lock_timeout={LOCK_WAIT_SECONDS * 1000}"}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # WAL + NORMAL: a commit is in the WAL file (the OS's) when it returns, so it
            # survives a crash of the process; only a power cut or an OS crash can lose the
            # last commits before the next checkpoint, never corrupt the database. The commits
            # that must survive a power cut too (the outbox's signed transaction, before it is
            # broadcast) ask for it with ``durable``: one FULL commit syncs the WAL with
            # every commit before it.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # The indexes on hashes (nullifiers, claim ids) are written at random places: with
            # millions of claims, SQLite's default 2 MB page cache misses on every insert.
            # Pages are read through a shared memory map and each connection caches 16 MB.
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

        @event.listens_for(engine, "checkin")
        def _back_to_normal(dbapi_connection: Any, record: Any) -> None:
            if dbapi_connection is not None and record.info.pop("durable", False):
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session per request: committed by the service, rolled back on any error."""
    with factory() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


def dialect_insert(session: Session) -> Any:
    """The session's dialect's ``insert`` (SQLite or PostgreSQL), which has ``ON CONFLICT``."""
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert


def insert_if_absent(session: Session, model: type[Base], **values: Any) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` on SQLite or PostgreSQL: the row exists after it,
    whoever made it (two processes making the same row at once both succeed)."""
    session.execute(dialect_insert(session)(model).values(**values).on_conflict_do_nothing())


def durable(session: Session) -> None:
    """Make the session's current transaction survive a power cut when it commits, not only a
    crash of the process: on SQLite (``synchronous=NORMAL``, see ``make_engine``) its commit
    syncs the WAL, and with it every commit before it; PostgreSQL's commits always are. Call
    it in the transaction, before its commit; the connection goes back to NORMAL when it
    returns to the pool. SQLite changes the setting only between transactions: call it before
    the transaction's first write (the driver begins one at the first write)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection().connection
    connection.info["durable"] = True
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


class HotRead:
    """A small ``SELECT`` asked on every request of a hot read path (a read version, the
    account behind a token, the index's checkpoint), compiled once per dialect and run on a
    pooled DBAPI connection: no Session, no Connection, no result objects. Those cost ten to
    twenty times the query itself on SQLite (issue 18's profile: ~0.9 ms through a Session,
    ~0.3 ms through Core, ~0.04 ms so), more than the rest of a kept read.

    Rows come back as the driver gives them (no type processing): use it for values whose
    raw form is what the caller compares or checks (integers, text, NULL)."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def _sql(self, dialect: Any) -> tuple[str, tuple[str, ...] | None]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            found = self._compiled[dialect.name] = (str(compiled), order)
        return found

    def rows(self, engine: Engine, **params: Any) -> list[tuple[Any, ...]]:
        """The rows now, on a connection from the engine's pool (returned, rolled back, at
        once: each call reads what is committed when it runs)."""
        sql, order = self._sql(engine.dialect)
        bound: Any = tuple(params[name] for name in order) if order is not None else params
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, bound)
                return [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()
        finally:
            connection.close()
