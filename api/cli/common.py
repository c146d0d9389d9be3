"""What every ``crda`` command shares: the console, failing, the database, our processes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from api.chain.devnet import stop_process_group
from api.db import make_engine, make_session_factory
from api.settings import PROJECT_ROOT, Settings

console = Console(stderr=True)
RUN_DIR = PROJECT_ROOT / "var" / "run"


def fail(message: str) -> typer.Exit:
    """The error in red on stderr; the caller raises the returned exit (code 1)."""
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@contextmanager
def database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on CRDA_DATABASE_URL; the engine is disposed when the command is done."""
    engine = make_engine(settings.database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def read_pid(name: str) -> dict[str, object] | None:
    """The record of a process we started (``var/run/<name>.json``), if it still runs."""
    path = RUN_DIR / f"{name}.json"
    if not path.exists():
        return None
    record: dict[str, object] = json.loads(path.read_text())
    pid = int(str(record["pid"]))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    return record


def write_pid(name: str, **record: object) -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    (RUN_DIR / f"{name}.json").write_text(json.dumps(record))


def stop_recorded(name: str) -> bool:
    """Stop the process group we recorded under ``name``; False if none was running."""
    record = read_pid(name)
    (RUN_DIR / f"{name}.json").unlink(missing_ok=True)
    if record is None:
        return False
    return stop_process_group(int(str(record["pid"])))
