"""The ASGI app over the real devnet and the real (migrated) database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.chain.deployments import Deployment
from api.settings import Settings


@pytest.fixture(scope="session")
def app(settings: Settings, deployment: Deployment, migrated: str) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI, chain: object) -> Iterator[TestClient]:
    """An HTTP client; the chain is reverted after each test (``chain`` fixture)."""
    with TestClient(app) as test_client:
        yield test_client
