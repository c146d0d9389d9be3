"""Settings: public defaults only in local development; fail closed everywhere else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from api.cli import app
from api.settings import (
    DEV_MASTER_KEY,
    DEV_PEPPER,
    DEVNET_ADMIN_ADDRESS,
    DEVNET_KEYS,
    AdminSettings,
    Environment,
    Settings,
    get_settings,
)

REAL_KEY = "0x" + "5a" * 32
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104  (the address that must not serve public secrets)
# Every secret set to a real value: what a deployment outside local development must provide.
REAL_SECRETS = {
    "CRDA_OPERATOR_KEY": REAL_KEY,
    "CRDA_ISSUER_KEY": "0x" + "6b" * 32,
    "CRDA_RELAYER_KEY": "0x" + "7c" * 32,
    "CRDA_ADMIN_KEY": "0x" + "8d" * 32,
    "CRDA_ADMIN_ADDRESS": "0x" + "44" * 20,
    "CRDA_SESSION_KEYS": '{"k1": "pem"}',
    "CRDA_MASTER_KEY": "A" * 43,
    "CRDA_UNIQUENESS_PEPPER": "a real secret pepper",
}
# Each secret with a public value it must never run with outside local development.
PUBLIC_VALUES = [
    ("CRDA_OPERATOR_KEY", DEVNET_KEYS[0]),
    ("CRDA_ISSUER_KEY", DEVNET_KEYS[1].removeprefix("0x")),  # with or without 0x
    ("CRDA_RELAYER_KEY", DEVNET_KEYS[2].upper()),
    ("CRDA_ADMIN_KEY", DEVNET_KEYS[9]),
    ("CRDA_ADMIN_ADDRESS", DEVNET_ADMIN_ADDRESS.lower()),
    ("CRDA_SESSION_KEYS", ""),
    ("CRDA_MASTER_KEY", DEV_MASTER_KEY),
    ("CRDA_UNIQUENESS_PEPPER", DEV_PEPPER),
]
# Ways of not being local development (each refuses the public values).
NOT_LOCAL = [
    {"CRDA_ENVIRONMENT": "production"},
    {"CRDA_API_HOST": EVERY_INTERFACE},
    {"CRDA_ENVIRONMENT": "test", "CRDA_API_HOST": "crda.incheon.example"},
    {"CRDA_RPC_URL": "https://besu.incheon.example:8545"},
    {"CRDA_PUBLIC_URL": "https://crda.incheon.example"},
]
ENV_NAMES = {
    "CRDA_ENVIRONMENT",
    "CRDA_API_HOST",
    "CRDA_API_PORT",
    "CRDA_PUBLIC_URL",
    "CRDA_RPC_URL",
    "CRDA_TIMELOCK_DELAY",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in {*REAL_SECRETS, *ENV_NAMES, "CRDA_DATABASE_URL"}:
        monkeypatch.delenv(name, raising=False)


def _load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> AdminSettings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return AdminSettings(_env_file=None)  # type: ignore[call-arg]


def test_local_development_runs_with_no_configuration() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment is Environment.development
    assert settings.local_development
    assert settings.database_url.startswith("sqlite:///")
    assert settings.operator_key.get_secret_value() == DEVNET_KEYS[0]
    assert settings.timelock_delay == 60  # short on the devnet, unless set
    admin = AdminSettings(_env_file=None)  # type: ignore[call-arg]
    assert admin.admin_key.get_secret_value() == DEVNET_KEYS[9]
    assert not hasattr(settings, "admin_key")  # the API's settings never hold the admin key
    for host in ("::1", "localhost"):
        assert Settings(_env_file=None, api_host=host).local_development  # type: ignore[call-arg]


@pytest.mark.parametrize("not_local", NOT_LOCAL, ids=lambda e: ",".join(e.values()))
def test_outside_local_development_no_default_secret_is_accepted(
    monkeypatch: pytest.MonkeyPatch, not_local: dict[str, str]
) -> None:
    # Nothing set: refused, naming the first secret to set.
    with pytest.raises(ValidationError, match="CRDA_OPERATOR_KEY is unset or a public"):
        _load(monkeypatch, not_local)
    settings = _load(monkeypatch, {**not_local, **REAL_SECRETS})
    assert not settings.local_development
    assert settings.timelock_delay == 2 * 24 * 3600
    assert "5a5a" not in repr(settings)  # secrets never print


@pytest.mark.parametrize(("name", "public"), PUBLIC_VALUES, ids=[n for n, _ in PUBLIC_VALUES])
def test_each_public_secret_is_refused_outside_local_development(
    monkeypatch: pytest.MonkeyPatch, name: str, public: str
) -> None:
    env = {**REAL_SECRETS, "CRDA_API_HOST": EVERY_INTERFACE, name: public}
    with pytest.raises(ValidationError, match=name):
        _load(monkeypatch, env)
    # The same value is fine in local development (what `make up` runs with).
    _load(monkeypatch, {**env, "CRDA_API_HOST": "127.0.0.1"})


def test_the_api_and_the_demo_refuse_to_run_outside_local_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = CliRunner()
    get_settings.cache_clear()
    try:
        # Local development's public secrets are not served beyond loopback.
        served = runner.invoke(app, ["serve", "--host", EVERY_INTERFACE])
        assert served.exit_code == 1
        assert "CRDA_API_HOST" in " ".join(served.output.split())
        # Bound to a public address, the settings refuse the defaults: no command starts.
        monkeypatch.setenv("CRDA_API_HOST", EVERY_INTERFACE)
        get_settings.cache_clear()
        refused = runner.invoke(app, ["serve"])
        assert refused.exit_code == 1
        assert isinstance(refused.exception, ValidationError)
        assert "CRDA_OPERATOR_KEY" in str(refused.exception)
        # With real secrets the platform may start there, but the demo (published staff
        # password) still refuses.
        for name, value in REAL_SECRETS.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        demo = runner.invoke(app, ["demo", "--base-url", "http://127.0.0.1:9"])
        assert demo.exit_code == 1
        assert "local development" in " ".join(demo.output.split())
    finally:
        get_settings.cache_clear()


def test_local_public_url_and_siwe_domain_follow_the_api_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRDA_API_PORT", "8300")
    settings = Settings()
    assert (settings.public_url, settings.siwe_domain) == (
        "http://127.0.0.1:8300",
        "127.0.0.1:8300",
    )
    # A public URL elsewhere means a proxy serves the API: not local development.
    monkeypatch.setenv("CRDA_PUBLIC_URL", "https://crda.incheon.example")
    with pytest.raises(ValidationError, match="CRDA_PUBLIC_URL"):
        Settings()
    assert _load(monkeypatch, REAL_SECRETS).public_url == "https://crda.incheon.example"
