"""The API's own schemathesis checks, for the fuzzing pass and for the schemathesis CLI.

Importing this module registers them, so the CLI's ``--checks all`` runs them too (the
repository's ``schemathesis.toml`` names this file as its hooks). It imports nothing of the
project, so the CLI loads it from any working directory.

- ``problem_details_on_errors``: every 4xx/5xx is RFC 9457 problem details.
- ``positive_data_acceptance`` replaces schemathesis' own check of that name, refined: the
  stock check calls every 422 to a schema-valid request a disagreement between the document
  and the API. Ours separates the two kinds of 422 the API answers: a request the document
  calls valid may still break a rule no schema can state (a signature that does not match its
  record, a receipt older than the claim window, a cursor another list made, a price outside
  the band); those answer a problem of their own type, listed in the error catalogue
  (``mobile_api_docs/errors.md``), and the app handles each by its slug. What the document
  promises is that such a request is never refused as *malformed*: answered
  ``/problems/validation-error`` or ``/problems/invalid-idempotency-key``, it fails, as
  schemathesis' check would; any other status is judged by the stock check unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import schemathesis
from schemathesis.checks import CHECKS, load_all_checks

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The problems that mean "the request is malformed": a schema-valid request never gets one.
MALFORMED = frozenset({"/problems/validation-error", "/problems/invalid-idempotency-key"})

load_all_checks()
# Ours takes the stock check's name (and with it its configuration: expected statuses). The
# module may be loaded twice (imported by the fuzzing pass, and by path as schemathesis.toml's
# hooks), so the stock check is found under ours when ours is registered already.
_REGISTERED = CHECKS.get_one("positive_data_acceptance")
_STOCK_POSITIVE_DATA_ACCEPTANCE: Any = getattr(_REGISTERED, "stock", _REGISTERED)


def _register(check: Callable[..., bool | None]) -> Callable[..., bool | None]:
    """Register ``check``, in place of any check of its name (a name is registered once)."""
    if check.__name__ in CHECKS.get_all_names():
        CHECKS.unregister(check.__name__)
    return schemathesis.check(check)


def _header(response: Any, name: str) -> str:
    value = response.headers.get(name, [""])
    return str(value[0] if isinstance(value, list) else value)


def _problem_type(response: Any) -> str | None:
    if not _header(response, "content-type").startswith(PROBLEM_MEDIA_TYPE):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


@_register
def problem_details_on_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is application/problem+json with type, title and status."""
    if response.status_code < 400:
        return None
    content_type = _header(response, "content-type")
    assert content_type.startswith(PROBLEM_MEDIA_TYPE), (
        f"{response.status_code} answered as {content_type!r}, not problem details"
    )
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert str(body.get("type", "")).startswith("/problems/"), body
    assert body.get("status") == response.status_code, body
    assert isinstance(body.get("title"), str), body
    return True


def positive_data_acceptance(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis' check, except that a 422 naming a domain rule is an accepted answer."""
    if response.status_code == 422 and _problem_type(response) not in MALFORMED | {None}:
        return None
    result: bool | None = _STOCK_POSITIVE_DATA_ACCEPTANCE(ctx, response, case)
    return result


positive_data_acceptance.stock = _STOCK_POSITIVE_DATA_ACCEPTANCE  # type: ignore[attr-defined]
_register(positive_data_acceptance)
