"""The FastAPI application factory: every domain's endpoints, the worker and the indexer.

This module (with ``api.tasks`` for background work, ``api.models`` for the schema and
``api.cli``) is the composition root: the one place above the domains that knows them all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError

from api import health, operations
from api.audit import endpoints as audit
from api.audit.claim_records import EarningClaimRecords
from api.audit.indexer import IndexerThread
from api.audit.provenance import set_claim_record_source
from api.auth import endpoints as auth
from api.auth.service import staff_with_password
from api.credentials import endpoints as credentials
from api.db import make_engine, make_session_factory
from api.deps import refuse_nul_characters, refuse_undeclared_method, throttle_public
from api.earning import endpoints as earning
from api.errors import Problem, install_problem_handlers
from api.logging import RequestIdMiddleware, configure_logging
from api.market import endpoints as market
from api.metrics import RequestMetricsMiddleware
from api.openapi import install_openapi, render
from api.opendata import endpoints as opendata
from api.outbox.runner import BackgroundWorker
from api.ratelimit import RateLimiter
from api.retirement import endpoints as retirement
from api.settings import DEMO_PASSWORD, Settings, get_settings
from api.state import AppState
from api.tasks import make_worker

log = structlog.get_logger(__name__)


def _operation_id(route: APIRoute) -> str:
    """Clean operation ids (``tag-name``) so generated mobile clients read well."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()
    # The auditor's claim provenance reads earning's off-chain records (evidence, inputs, proof).
    set_claim_record_source(EarningClaimRecords())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        state = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            limiter=RateLimiter(settings, sessions),
        )
        app.state.crda = state
        if not settings.local_development:
            try:
                with state.sessions() as session:
                    published = staff_with_password(session, DEMO_PASSWORD)
            except SQLAlchemyError as exc:
                # No tables (not migrated) or no database: no staff account can sign in either;
                # /readyz says what is wrong.
                log.warning("staff_password_check_skipped", error=type(exc).__name__)
                published = []
            if published:
                # Fail closed: the demo's password is public (README, source).
                raise RuntimeError(
                    "CRDA API cannot start: staff accounts sign in with the demo's published "
                    f"password ({', '.join(published)}): remove them outside local development"
                )
        if settings.check_chain_on_start:
            try:
                state.chain_gateway()
            except Problem as exc:
                # Fail fast: serving against a chain that forgot the contracts loses writes.
                raise RuntimeError(f"CRDA API cannot start: {exc.detail or exc.title}") from exc
        background: BackgroundWorker | None = None
        if settings.run_workers:
            background = BackgroundWorker(
                make_worker(settings, state.sessions, state.chain_gateway()),
                settings.worker_interval,
            )
            background.start()
        if settings.indexer_enabled:
            state.indexer = IndexerThread(settings, state.sessions)
            state.indexer.start()
        log.info("api_started", environment=settings.environment.value)
        try:
            yield
        finally:
            if background is not None:
                background.stop()
            if state.indexer is not None:
                state.indexer.stop()
            engine.dispose()

    app = FastAPI(
        title="CRDA API",
        version="0.2.0",
        summary="Carbon Reduction Digital Asset platform: the city app's backend.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        dependencies=[
            Depends(refuse_undeclared_method),
            Depends(refuse_nul_characters),
            Depends(throttle_public),
        ],
    )
    app.add_middleware(RequestMetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(auth.accounts_router)
    app.include_router(credentials.accounts_router)
    app.include_router(credentials.verifiers_router)
    app.include_router(credentials.router)
    app.include_router(credentials.identifiers_router)
    app.include_router(earning.public_router)
    app.include_router(earning.router)
    app.include_router(market.router)
    app.include_router(audit.reads_router)
    app.include_router(audit.router)
    app.include_router(retirement.router)
    app.include_router(retirement.public)
    app.include_router(audit.dashboard_router)
    app.include_router(operations.router)
    app.include_router(opendata.router)
    app.include_router(opendata.page_router)
    install_openapi(app)
    return app


def export_text() -> str:
    """The OpenAPI document of an app built with the default settings (it does not vary)."""
    return render(create_app(get_settings()).openapi())
