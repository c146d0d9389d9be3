"""One error base class and one handler: every error leaves the API as RFC 9457 problem details.

A domain error names a stable problem ``type`` (``/problems/<slug>``); the mobile app keys its
messages on that slug, never on the human-readable title or detail.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api import metrics
from api.i18n import DEFAULT_LOCALE, Message, msg, negotiate, render

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = structlog.get_logger(__name__)


# Every problem type the code declares, by slug: the source of the error catalogue.
PROBLEM_TYPES: dict[str, type[Problem]] = {}


class Problem(Exception):
    """A failure the client can understand; rendered as ``application/problem+json``."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"
    # For the error catalogue (mobile_api_docs/errors.md): when it happens, what the app shows.
    when: str = ""
    show: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "slug" in cls.__dict__:
            PROBLEM_TYPES.setdefault(cls.slug, cls)

    def __init__(self, detail: str | Message | None = None, **extensions: Any) -> None:
        """``detail`` is English, itself the msgid of its translation; a detail with values is a
        :class:`~api.i18n.Message` (``msg("... {name} ...", name=value)``)."""
        super().__init__(str(detail) if detail else self.title)
        self.detail = detail
        self.extensions = extensions

    @property
    def detail(self) -> str | None:
        """The detail in English (logs, stored reasons); :meth:`body` translates it."""
        return str(self._detail) if self._detail else None

    @detail.setter
    def detail(self, value: str | Message | None) -> None:
        self._detail = value

    @property
    def type(self) -> str:
        return f"/problems/{self.slug}"

    def body(self, instance: str | None = None, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
        """The problem document, its ``title`` and ``detail`` in ``locale`` (``type`` never
        changes: the app keys on it)."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": render(self.title, locale),
            "status": self.status,
        }
        if self._detail:
            body["detail"] = render(self._detail, locale)
        if instance:
            body["instance"] = instance
        # RFC 9457's own members win: an extension never changes the type, title or status.
        return {**self.extensions, **body}


def problem(status: int, slug: str, title: str, *, when: str = "", show: str = "") -> type[Problem]:
    """One-line problem class: ``NotFound = problem(404, "not-found", "Not found")``.

    ``when`` and ``show`` (when it happens, what the app should show) document the type in
    the error catalogue; without them, api/catalogue.py's table must have the slug.
    """
    return type(
        "".join(part.capitalize() for part in slug.split("-")),
        (Problem,),
        {"status": status, "slug": slug, "title": title, "when": when, "show": show},
    )


NotFound = problem(
    404,
    "not-found",
    "Not found",
    when="The thing named in the path does not exist, or the route does not exist.",
    show='"Not found"; go back to the list it came from.',
)
MethodNotAllowed = problem(
    405,
    "method-not-allowed",
    "Method not allowed",
    when="The path exists but not with this HTTP method.",
    show="Nothing to the user: a bug in the app.",
)
Forbidden = problem(
    403,
    "forbidden",
    "Forbidden",
    when=(
        "Signed in, but the role or ownership does not allow it (someone else's"
        " account, a citizen calling a verifier's operation; on chain: the "
        "platform's signer lacks a role)."
    ),
    show='"You cannot do this"; do not retry.',
)
Unauthorized = problem(
    401,
    "unauthorized",
    "Authentication required",
    when="Authentication is required and none was given.",
    show="Go to sign-in.",
)
Conflict = problem(
    409,
    "conflict",
    "Conflict",
    when="The request conflicts with the current state.",
    show="Refresh the screen and let the user try again.",
)
ValidationFailed = problem(
    422,
    "validation-error",
    "The request is not valid",
    when=(
        "A body field, query or path parameter is missing or invalid; `errors` lists each one "
        "(`loc`, `msg`, `type`)."
    ),
    show="Mark the fields named in `errors[].loc` next to the form inputs.",
)
ServiceUnavailable = problem(
    503,
    "service-unavailable",
    "A service the API needs is unavailable",
    when="A service the API depends on is down.",
    show='"Temporarily unavailable"; retry with back-off.',
)
ChainUnavailable = problem(
    503,
    "chain-unavailable",
    "The blockchain node is unavailable",
    when="The blockchain node cannot be reached (writes and on-chain checks need it).",
    show='"Temporarily unavailable"; retry with back-off. Nothing was written.',
)
DatabaseUnavailable = problem(
    503,
    "database-unavailable",
    "The database is unavailable",
    when="The database cannot be reached.",
    show='"Temporarily unavailable"; retry with back-off.',
)
DatabaseBusy = problem(
    503,
    "database-busy",
    "The database is busy",
    when=(
        "The request waited its limit (`LOCK_WAIT_SECONDS`) for rows other requests hold, or"
        " lost a deadlock; nothing was written. `Retry-After` says when to try again."
    ),
    show='"Busy, trying again"; retry after `Retry-After` seconds with the same `Idempotency-Key`.',
)
DeploymentMismatch = problem(
    503,
    "deployment-mismatch",
    "The chain is not the one the contracts were deployed to",
    when="The node is not the chain the contracts were deployed to (an operator problem).",
    show='"Temporarily unavailable"; retry later.',
)
InternalError = problem(
    500,
    "internal-error",
    "Internal error",
    when="A bug on our side; the response's `X-Request-ID` finds it in the logs.",
    show='"Something went wrong" with the request id; retry later.',
)

HttpError = problem(
    400,
    "bad-request",
    "Bad request",
    when="The request is malformed at the HTTP level (a status no domain error names).",
    show="A generic error; it is a bug in the app, report it with the request id.",
)


def _slug(phrase: str) -> str:
    return phrase.lower().replace(" ", "-").replace("'", "")


_HTTP_STATUS_PROBLEMS: dict[int, type[Problem]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
}


# The methods a 405's ``Allow`` may name, in the order it names them.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _declared_paths(app: Any) -> list[tuple[re.Pattern[str], int, list[str]]]:
    """(regex, number of parameters, methods) of each path the OpenAPI document declares."""
    cached: list[tuple[re.Pattern[str], int, list[str]]] | None = getattr(
        app.state, "declared_paths", None
    )
    if cached is None:
        cached = []
        for path, item in app.openapi()["paths"].items():
            regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path))
            methods = [m for m in HTTP_METHODS if m.lower() in item]
            cached.append((re.compile(f"^{regex}$"), path.count("{"), methods))
        app.state.declared_paths = cached
    return cached


def _literal_paths(app: Any) -> dict[str, list[str]]:
    """The methods of each declared path without parameters, by the path itself: most
    requests name one, and a dictionary look-up spares the match against every pattern."""
    cached: dict[str, list[str]] | None = getattr(app.state, "declared_literal_paths", None)
    if cached is None:
        cached = {}
        for path, item in app.openapi()["paths"].items():
            if "{" not in path:
                cached[path] = [m for m in HTTP_METHODS if m.lower() in item]
        app.state.declared_literal_paths = cached
    return cached


def allowed_methods(request: Request) -> list[str]:
    """The methods the resource at the request's path answers, as the document declares them.

    The resource is the most specific declared path that matches (``/credentials/issue``
    rather than ``/credentials/{credential_id}``): a path served by several routes (``GET`` and
    ``POST`` written apart) names them all, and a literal path is not credited with the
    methods of a parametrised one that happens to match it. A path the document does not
    declare falls back to the router (each method asked of every route).
    """
    path = request.scope.get("path", "")
    literal = _literal_paths(request.app).get(path)
    if literal is not None:
        return literal  # a path with no parameter: no other declared path is more specific
    matching = [
        (params, methods)
        for regex, params, methods in _declared_paths(request.app)
        if regex.match(path)
    ]
    if matching:
        return min(matching, key=lambda found: found[0])[1]
    routes = request.app.router.routes
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


# PostgreSQL's lock_not_available (lock_timeout), deadlock_detected, serialization_failure.
_BUSY_SQLSTATES = {"55P03", "40P01", "40001"}


def lock_wait_ended(exc: BaseException) -> bool:
    """Whether a database error is a lock wait that hit its bound (``api.db``'s
    ``LOCK_WAIT_SECONDS``: PostgreSQL's ``lock_timeout``, SQLite's busy timeout) or a deadlock."""
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    return "database is locked" in str(original or exc)


def problem_response(
    exc: Problem, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The problem in the language the client asks for (``Accept-Language``; English when it
    names none we have), saying which (``Content-Language``, ``Vary: Accept-Language``)."""
    metrics.count_problem(exc.slug, exc.status)
    headers = dict(headers or {})
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    locale = negotiate(request.headers.get("accept-language"))
    headers["Content-Language"] = locale
    headers["Vary"] = ", ".join(filter(None, [headers.get("Vary"), "Accept-Language"]))
    retry_after = exc.extensions.get("retry_after")
    if isinstance(retry_after, int) and not isinstance(retry_after, bool):
        # RFC 9110 section 10.2.3: what `retry_after` says, for clients that read headers.
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(
        exc.body(instance=request.url.path, locale=locale),
        status_code=exc.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Route every exception the app can raise into a problem-details response."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(ValidationFailed(errors=errors), request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        cls = _HTTP_STATUS_PROBLEMS.get(exc.status_code, HttpError)
        error = cls()
        if cls is HttpError:
            # A status no domain error names (e.g. 415 from the framework): a problem of its
            # own, built on the instance so the catalogue of declared types stays fixed.
            phrase = HTTPStatus(exc.status_code).phrase
            error.status, error.slug, error.title = exc.status_code, _slug(phrase), phrase
        if isinstance(exc.detail, str) and exc.detail.lower() != error.title.lower():
            error.detail = exc.detail
        headers = None
        if exc.status_code == 405:
            # RFC 9110 section 15.5.6: a 405 lists the methods the resource does answer.
            allowed = allowed_methods(request)
            headers = {"Allow": ", ".join(allowed)}
            error.detail = msg(
                "{method} is not answered here; this path answers {allowed}",
                method=request.method,
                allowed=", ".join(allowed),
            )
        return problem_response(error, request, headers)

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        # A bounded lock wait that ended (or a deadlock) is the busy case: retry soon.
        busy = lock_wait_ended(exc)
        log.error(
            "database_busy" if busy else "database_unavailable",
            path=request.url.path,
            error=type(exc).__name__,
        )
        error = DatabaseBusy() if busy else DatabaseUnavailable()
        return problem_response(error, request, {"Retry-After": "1" if busy else "5"})

    async def on_data_error(request: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the client sent (a number beyond a column, text it
        # cannot hold): the request is at fault, not the server.
        log.warning("database_refused_value", path=request.url.path, error=str(exc)[:200])
        return problem_response(
            ValidationFailed("a value in the request does not fit what the platform stores"),
            request,
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return problem_response(InternalError(), request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_database_error)
    app.add_exception_handler(PoolTimeoutError, on_database_error)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(Exception, on_unexpected)
