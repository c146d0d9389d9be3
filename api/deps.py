"""Dependencies as ``Annotated`` aliases, so handlers read ``session: SessionDep``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.chain.gateway import ChainGateway
from api.db import session_scope
from api.errors import ValidationFailed, allowed_methods
from api.i18n import page_locale
from api.settings import Settings
from api.state import AppState

# The largest integer a database column holds (BIGINT, SQLite INTEGER): every integer query
# parameter that reaches SQL is bounded by it, so an absurd one is a 422, not a crash.
MAX_SQL_INT = 2**63 - 1
# Integer primary keys are 32-bit on PostgreSQL.
MAX_ROW_ID = 2**31 - 1


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.crda
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    yield from session_scope(state.sessions)


def get_chain(state: StateDep) -> ChainGateway:
    return state.chain_gateway()


def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


SessionDep = Annotated[Session, Depends(get_session)]
ChainDep = Annotated[ChainGateway, Depends(get_chain)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


# What the document says of every path and query parameter with no pattern of its own
# (api/openapi.py): the rule :func:`refuse_nul_characters` enforces.
NO_NUL_PATTERN = r"^[^\u0000]*$"


def refuse_nul_characters(request: Request) -> None:
    """No text a client sends in a path or query may hold a NUL character: PostgreSQL cannot
    store or compare one, and no identifier, address or name of ours contains it. Checked for
    every route before its handler, so a streamed export never fails after its first byte."""
    values = [*request.path_params.values(), *request.query_params.values()]
    if any("\x00" in str(value) for value in values):
        raise ValidationFailed("a path or query parameter contains a NUL character")


def refuse_undeclared_method(request: Request) -> None:
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
