"""Structured logs (structlog) with a request id on every line; never secrets or personal data.

Logs go to stderr (stdout belongs to a command's output, e.g. ``crda bench market --json``).
Two guards keep secrets out: every event passes :func:`redact_secrets`, which blanks the value of
any key that names a secret (``password``, ``secret``, ``private_key``, ``token``,
``authorization``, ...) at any depth; and tracebacks are rendered plainly, without frame locals
(structlog's default rich traceback prints every frame's variables, request bodies and keys
included).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"


# A key whose value is never logged (matched anywhere in the key, any case).
SECRET_KEY = re.compile(
    r"pass(word|phrase|wd)?|secret|private_?key|token|authori[sz]ation|cookie|api_?key"
    r"|mnemonic|pepper|master_?key",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def _redacted(key: object, value: Any) -> Any:
    if isinstance(key, str) and SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redacted(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(None, v) for v in value]
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: blank the value of every key that names a secret, at any depth."""
    for key, value in list(event_dict.items()):
        if key != "event":
            event_dict[key] = _redacted(key, value)
    return event_dict


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    # sys.stderr as it is at each call (a test's capture, a redirected stream), not at import.
    return structlog.PrintLogger(sys.stderr)


def configure_logging(
    level: int = logging.INFO, *, json: bool = False, stream: TextIO | None = None
) -> None:
    """Logs to ``stream`` (stderr), secrets redacted, tracebacks without frame locals."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        redact_secrets,
    ]
    if json:
        # The traceback as plain text (format_exc_info shows no locals).
        processors.append(structlog.processors.format_exc_info)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream) if stream else _stderr_logger,
        # Not cached: a logger used before a (re)configuration follows the new one.
        cache_logger_on_first_use=False,
    )


class RequestIdMiddleware:
    """Take the caller's X-Request-ID (or make one), bind it to the logs, echo it back.

    Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``: that one runs every request
    through an extra task and memory stream, a measurable share of a cheap request's time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if 0 < len(incoming) <= 128 else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
