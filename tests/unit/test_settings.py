"""Settings: safe defaults locally, no public devnet keys in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.settings import DEVNET_KEYS, Environment, Settings

REAL_KEY = "0x" + "5a" * 32


def test_development_runs_with_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CRDA_ENVIRONMENT", "CRDA_DATABASE_URL", "CRDA_RPC_URL", "CRDA_OPERATOR_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment is Environment.development
    assert settings.database_url.startswith("sqlite:///")
    assert settings.operator_key.get_secret_value() == DEVNET_KEYS[0]


def test_production_refuses_the_public_devnet_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRDA_ENVIRONMENT", "production")
    monkeypatch.setenv("CRDA_OPERATOR_KEY", REAL_KEY)
    monkeypatch.setenv("CRDA_ISSUER_KEY", REAL_KEY)
    with pytest.raises(ValidationError, match="CRDA_RELAYER_KEY is a public devnet key"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_production_accepts_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRDA_ENVIRONMENT", "production")
    for name in ("OPERATOR", "ISSUER", "RELAYER"):
        monkeypatch.setenv(f"CRDA_{name}_KEY", REAL_KEY)
    monkeypatch.setenv("CRDA_SESSION_KEYS", '{"k1": "pem"}')
    monkeypatch.setenv("CRDA_UNIQUENESS_PEPPER", "a real secret pepper")
    monkeypatch.setenv("CRDA_MASTER_KEY", "A" * 43)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "5a5a" not in repr(settings)  # secrets never print


def test_local_public_url_and_siwe_domain_follow_the_api_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRDA_API_PORT", "8300")
    settings = Settings()
    assert (settings.public_url, settings.siwe_domain) == (
        "http://127.0.0.1:8300",
        "127.0.0.1:8300",
    )
    monkeypatch.setenv("CRDA_PUBLIC_URL", "https://crda.incheon.example")
    assert Settings().public_url == "https://crda.incheon.example"
