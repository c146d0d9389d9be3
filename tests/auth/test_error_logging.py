"""An unhandled error logs no secret: no frame locals, secret-named keys redacted, on stderr."""

from __future__ import annotations

import pytest
import structlog
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import service
from api.chain.deployments import Deployment
from api.settings import Settings

PASSWORD = "Correct-Horse-7f3a9c"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.secret-bearer-4b1d"


def test_a_forced_error_in_a_request_with_a_password_logs_no_secret(
    settings: Settings,
    deployment: Deployment,
    migrated: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken_hasher() -> None:
        # Raised inside sign_in, whose frame holds the password (and the request's body above).
        raise RuntimeError("password hasher unavailable")

    monkeypatch.setattr(service, "password_hasher", broken_hasher)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        capsys.readouterr()
        response = client.post(
            "/auth/sign-in",
            json={"email": "someone@example.org", "password": PASSWORD},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 500
        assert response.json()["type"] == "/problems/internal-error"
        # A log call that names secrets, at any depth, gets them blanked.
        structlog.get_logger("test").warning(
            "login_debug",
            password=PASSWORD,
            request={"headers": {"authorization": f"Bearer {TOKEN}"}, "path": "/auth/sign-in"},
            private_key="0x" + "ab" * 32,
            client_secret="s3cr3t-value",
        )
        logged = capsys.readouterr()

    assert "unhandled_error" in logged.err and "RuntimeError" in logged.err
    assert "password hasher unavailable" in logged.err  # the traceback is there, its locals not
    assert "login_debug" in logged.err and "/auth/sign-in" in logged.err
    for secret in (PASSWORD, TOKEN, "ab" * 32, "s3cr3t-value"):
        assert secret not in logged.err
        assert secret not in logged.out
    assert "unhandled_error" not in logged.out  # logs belong on stderr, stdout is output
