"""What the mobile team gets, regenerated: the OpenAPI document, the error catalogue; fuzzing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.catalogue import missing_hints, render_markdown
from api.cli.common import console
from api.openapi import client_text
from api.settings import PROJECT_ROOT

DOCS_DIR = PROJECT_ROOT / "mobile_api_docs"
CLIENT_GENERATED = PROJECT_ROOT / "crda_client" / "_generated.py"


def export_openapi(
    out: Annotated[str, typer.Option(help="Where to write.")] = str(DOCS_DIR / "openapi.json"),
) -> None:
    """Write the app's OpenAPI document (sorted keys, stable) and the Python client's table."""
    from api.app import export_text  # lazy: the app imports every domain (seconds of start-up)

    document = export_text()
    path = _write_text(out, document)
    console.print(f"wrote {path}")
    generated = _write_text(str(CLIENT_GENERATED), client_text(document))
    console.print(f"wrote {generated}")


def export_errors(
    out: Annotated[str, typer.Option(help="Where to write.")] = str(DOCS_DIR / "errors.md"),
) -> None:
    """Write the error catalogue (every problem type, its status, when, what to show)."""
    from api.app import export_text  # lazy: the app imports every domain (seconds of start-up)

    export_text()  # builds the app, so every module's problem types are registered
    path = _write_text(out, render_markdown())
    console.print(f"wrote {path}")
    missing = missing_hints()
    if missing:
        console.print(
            "[yellow]undocumented problem types[/] (add them to api/catalogue.py HINTS): "
            + ", ".join(missing)
        )


def _write_text(out: str, text: str) -> str:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def fuzz(
    examples: Annotated[int, typer.Option(help="Generated requests per operation and role.")] = 200,
    seed: Annotated[int | None, typer.Option(help="Hypothesis seed (default: random).")] = None,
) -> None:
    """Fuzz every operation as each role with every schemathesis check (coverage requests,
    positive and negative generated ones, stateful links), on a throwaway devnet and database.

    The checks are tests/api/test_fuzz.py's (``--checks all`` and the API's own, from
    tests/api/contract.py); a failure prints the request that reproduces it."""
    env = {**os.environ, "CRDA_FUZZ_EXAMPLES": str(examples)}
    args = [
        sys.executable,
        "-m",
        "pytest",
        "tests/api/test_fuzz.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    if seed is not None:
        args.append(f"--hypothesis-seed={seed}")
    raise typer.Exit(subprocess.call(args, cwd=PROJECT_ROOT, env=env))  # noqa: S603
