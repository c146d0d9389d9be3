"""`crda identity`: the first operator, and the desk's uniqueness key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.settings import get_settings
from identity.uniqueness import uniqueness_key


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, migrated: str) -> Iterator[None]:
    monkeypatch.setenv("CRDA_DATABASE_URL", migrated)
    monkeypatch.setenv("CRDA_UNIQUENESS_PEPPER", "cli-test-pepper")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("env")
def test_uniqueness_key_reads_the_identifier_hidden_and_prints_only_the_key() -> None:
    result = CliRunner().invoke(app, ["identity", "uniqueness-key"], input="900101-1234567\n")
    assert result.exit_code == 0, result.output
    assert uniqueness_key("9001011234567", "cli-test-pepper") in result.output
    assert "1234567\n" not in result.stdout.splitlines()[-1]


@pytest.mark.usefixtures("env")
def test_create_staff_makes_an_operator_once() -> None:
    runner = CliRunner()
    args = ["identity", "create-staff", "--email", "first-operator@city.example"]
    first = runner.invoke(app, args, input="a-long-password\na-long-password\n")
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, args, input="a-long-password\na-long-password\n")
    assert again.exit_code == 1
    refused = runner.invoke(
        app, [*args[:3], "x@city.example", "--role", "citizen"], input="a-long-password\n" * 2
    )
    assert refused.exit_code == 1
