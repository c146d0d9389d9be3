"""Dependencies as ``Annotated`` aliases, so handlers read ``session: SessionDep``.

A dependency that does no I/O is ``async def``: FastAPI runs a plain ``def`` dependency in
the thread pool, and each such hop (a hand-over to a worker thread and back, under the GIL)
cost more than a cheap request's own work (issue 18's profile). What reads or writes the
database stays a plain ``def`` and runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.chain.gateway import ChainGateway
from api.db import session_scope
from api.errors import ValidationFailed, allowed_methods
from api.i18n import page_locale
from api.ratelimit import client_address
from api.settings import Settings
from api.state import AppState

# The largest integer a database column holds (BIGINT, SQLite INTEGER): every integer query
# parameter that reaches SQL is bounded by it, so an absurd one is a 422, not a crash.
MAX_SQL_INT = 2**63 - 1
# Integer primary keys are 32-bit on PostgreSQL.
MAX_ROW_ID = 2**31 - 1


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.crda
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    """One session per request (:func:`api.db.session_scope`'s rules). Making it touches no
    database: a connection is taken by the first query, in the worker thread that runs it."""
    with session_scope(state.sessions) as session:
        yield session


def get_chain(state: StateDep) -> ChainGateway:
    return state.chain_gateway()


async def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


SessionDep = Annotated[Session, Depends(get_session)]
ChainDep = Annotated[ChainGateway, Depends(get_chain)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


# What the document says of every path and query parameter with no pattern of its own
# (api/openapi.py): the rule :func:`refuse_nul_characters` enforces.
NO_NUL_PATTERN = r"^[^\u0000]*$"


async def refuse_nul_characters(request: Request) -> None:
    """No text a client sends in a path or query may hold a NUL character: PostgreSQL cannot
    store or compare one, and no identifier, address or name of ours contains it. Checked for
    every route before its handler, so a streamed export never fails after its first byte."""
    values = [*request.path_params.values(), *request.query_params.values()]
    if any("\x00" in str(value) for value in values):
        raise ValidationFailed("a path or query parameter contains a NUL character")


async def refuse_undeclared_method(request: Request) -> None:
    """A method the resource does not answer is a 405 (with ``Allow``), even when a
    parametrised route would take it: ``GET /credentials/issue`` is not a credential lookup,
    nor ``GET /certificates/verify`` a certificate with the serial "verify"."""
    if request.method not in allowed_methods(request):
        raise StarletteHTTPException(status_code=405)


def page_language(
    request: Request,
    lang: Annotated[
        Literal["ko", "en"] | None,
        Query(
            description="The page's language (its switch); the browser's Accept-Language "
            "otherwise, English when it names neither."
        ),
    ] = None,
) -> str:
    return page_locale(lang, request.headers.get("accept-language"))


# The language a page (or its JSON twin) is shown in: ``?lang=`` first, then Accept-Language.
LanguageDep = Annotated[str, Depends(page_language)]


def language_headers(locale: str) -> dict[str, str]:
    """What an answer in a negotiated language says about it (caches keep one per language)."""
    return {"Content-Language": locale, "Vary": "Accept-Language"}


# Paths no limit applies to (api/openapi.py declares no 429 for them either): liveness
# consults nothing, not even the database the counters live in; readiness must say what is
# wrong with that database (a limiter failing on it would hide it), and its callers are the
# platform's own probes; the metrics scrape has its own bearer token and must still answer
# when the database is down.
UNTHROTTLED = frozenset({"/healthz", "/readyz", "/metrics"})


def _needs_token(dependant: Dependant) -> bool:
    call = dependant.call
    return isinstance(call, SecurityBase) or any(_needs_token(d) for d in dependant.dependencies)


# Whether each route is public, by id (routes are made once per app and kept by it).
_PUBLIC: dict[int, tuple[APIRoute, bool]] = {}


def is_public(route: APIRoute) -> bool:
    """Whether the route answers without a bearer token (no security scheme among its
    dependencies): those are limited per client address, the others per account."""
    known = _PUBLIC.get(id(route))
    if known is None or known[0] is not route:
        public = route.path not in UNTHROTTLED and not _needs_token(route.dependant)
        known = _PUBLIC[id(route)] = (route, public)
    return known[1]


async def throttle_public(request: Request) -> None:
    """Every unauthenticated route: the public limit per client address (a signed-in route is
    limited per account by ``api.auth.deps.current_user``). The app's state is read only for a
    throttled route, so the unthrottled probes answer even before (or without) it; the counter
    is written in a worker thread, and only when the limits are on."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and is_public(route):
        state: AppState = request.app.state.crda
        if state.limiter.enabled:
            who = client_address(request.client and request.client.host)
            await run_in_threadpool(state.limiter.hit, "public", who)


def throttle(name: str) -> Any:
    """A route's own limit per client address (``rate_limit_<name>``), on top of the public
    one: ``@router.get(..., dependencies=[throttle("certificate_page")])``."""

    def check(request: Request, state: StateDep) -> None:
        state.limiter.hit(name, client_address(request.client and request.client.host))

    check.__name__ = f"throttle_{name}"
    dependency: Callable[..., None] = check
    return Depends(dependency)
