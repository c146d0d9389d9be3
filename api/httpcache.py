"""Conditional GET (RFC 9110 section 13): a kept answer sent with its entity tag, and ``304 Not
Modified`` with no body when the client already holds it (``If-None-Match``).

Used where an answer is kept as bytes per process while exact (``api/readversions.py``): the
tag is a hash of those bytes, computed once per kept answer, so every process tags one answer
alike and a client polling an unchanged answer gets a few headers back, not the body again.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

# Clients and caches may store the answer but must ask again each time (it changes any time).
REVALIDATE = "no-cache"


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as the header asks), or is
    ``*``."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def json_with_etag(request: Request, body: bytes, etag: str) -> Response:
    """The JSON ``body`` with its tag, or a 304 when the request's ``If-None-Match`` holds it."""
    headers = {"ETag": etag, "Cache-Control": REVALIDATE}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def etag_responses(what: str) -> dict[int | str, dict[str, Any]]:
    """What the OpenAPI document says of a route answered by :func:`json_with_etag`."""
    headers = {
        "ETag": {
            "description": f"The entity tag of {what}: send it back as `If-None-Match`.",
            "schema": {"type": "string"},
        },
        "Cache-Control": {
            "description": f"`{REVALIDATE}`: store it, but ask again each time.",
            "schema": {"type": "string"},
        },
    }
    return {
        200: {"headers": headers},
        304: {
            "description": f"Not Modified: `If-None-Match` named the current tag of {what}; "
            "no body (show the one you hold).",
            "headers": {"ETag": headers["ETag"]},
        },
    }
