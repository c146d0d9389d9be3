"""The indexer inside the API process (lifespan thread) and as ``crda index``."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from api import cli
from api.app import create_app
from api.audit.models import Checkpoint
from api.settings import Settings, get_settings
from tests.audit.conftest import Activity, dump_index

pytestmark = [pytest.mark.chain, pytest.mark.database]


def _url(sessions) -> str:
    return sessions.kw["bind"].url.render_as_string(hide_password=False)


def test_the_api_process_indexes_in_the_background_and_stops_cleanly(
    settings: Settings, new_database, make_indexer, activity: Activity, chain
) -> None:
    activity.mixed(4)
    sessions = new_database()
    app_settings = settings.model_copy(
        update={
            "indexer_enabled": True,
            "database_url": _url(sessions),
            "indexer_poll_interval": 0.05,
        }
    )
    app = create_app(app_settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        thread = app.state.crda.indexer
        assert thread is not None and thread.alive
        head = chain.w3.eth.block_number
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sessions() as session:
                at = session.scalar(select(Checkpoint.block_number))
            if at == head:
                break
            time.sleep(0.05)
        assert at == head, thread.last_error
        # New blocks are followed while the API serves.
        activity.mixed(2, salt=3)
        head = chain.w3.eth.block_number
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sessions() as session:
                if session.scalar(select(Checkpoint.block_number)) == head:
                    break
            time.sleep(0.05)
    assert not thread.alive
    clean = new_database()
    make_indexer(clean).run()
    assert dump_index(sessions) == dump_index(clean)


def test_crda_index_once_catches_up_and_exits(
    settings: Settings,
    new_database,
    make_indexer,
    activity: Activity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    activity.mixed(5)
    sessions = new_database()
    monkeypatch.setenv("CRDA_RPC_URL", settings.rpc_url)
    monkeypatch.setenv("CRDA_DATABASE_URL", _url(sessions))
    monkeypatch.setenv("CRDA_DEPLOYMENTS_DIR", str(settings.deployments_dir))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(cli.app, ["index", "--once"])
        assert result.exit_code == 0, result.output
        again = runner.invoke(cli.app, ["index", "--once"])
        assert again.exit_code == 0, again.output
        check = runner.invoke(cli.app, ["integrity", "--on-chain-balances"])
        assert check.exit_code == 0, check.output
        assert '"ok": true' in check.stdout
        reset = runner.invoke(cli.app, ["index", "--once", "--reset"])
        assert reset.exit_code == 0, reset.output
    finally:
        get_settings.cache_clear()
    clean = new_database()
    make_indexer(clean).run()
    assert dump_index(sessions) == dump_index(clean)
