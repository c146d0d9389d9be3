"""The auditor's dashboard: one static page (HTML + JS, SVG charts, no build step).

The page itself holds no data; it signs in (or takes a token from the URL fragment, which never
reaches a server) and reads the auditor API with the token kept in memory.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["dashboard"])


@router.get("/dashboard", response_class=FileResponse, include_in_schema=False)
def dashboard_page() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html")


@router.get("/dashboard/dashboard.js", response_class=FileResponse, include_in_schema=False)
def dashboard_script() -> FileResponse:
    return FileResponse(STATIC / "dashboard.js", media_type="text/javascript")
