"""The texts the platform shows, extracted from the code into a Babel message catalogue.

Every msgid comes from where the text is declared, in English:

- a problem's title: ``problem(status, slug, "Title")``, a ``Problem`` subclass's ``title``,
  and the contract errors' titles (``api.chain.errors.ERROR_PROBLEMS``);
- a problem's detail: the string literal a ``Problem`` is raised with (``raise NotFound("no
  such account")``), or ``msg("... {name} ...", name=value)`` for a detail with values;
- a page's labels: ``_("...")`` in Python (the certificate pages) and in the dashboard's
  script, and ``{{ _("...") }}`` in its HTML.

A problem raised with an f-string cannot be translated (its values are already in the text):
:func:`untranslatable` names every such place, and tests/unit/test_i18n.py fails on one.

``crda export-messages`` writes the template (``build/messages.pot``) and merges it into
each language's ``messages.po``: new msgids arrive with an empty translation to fill in, texts
no longer in the code are dropped.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from api.cli.common import console
from api.i18n import HTML_MARKER, LOCALES, catalogue_path, script_msgids

API = Path(__file__).resolve().parents[1]
PROJECT = API.parent
TEMPLATE = PROJECT / "build" / "messages.pot"  # generated, not checked in
FIXED_DATE = datetime(2026, 12, 2, tzinfo=UTC)
# Code whose errors never reach a client as a problem: the CLI's and the demo's own messages.
_SKIP = ("cli", "demo", "migrations")


@dataclass(frozen=True)
class Found:
    msgid: str
    where: str  # path:line


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _python_files() -> list[Path]:
    return sorted(
        p
        for p in API.rglob("*.py")
        if not set(p.relative_to(API).parts[:-1]) & set(_SKIP)
        and p.relative_to(API).parts[0] not in _SKIP
    )


def _is_problem(module: object, func: ast.expr) -> bool:
    from api.errors import Problem

    target: object = None
    if isinstance(func, ast.Name):
        target = getattr(module, func.id, None)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        target = getattr(getattr(module, func.value.id, None), func.attr, None)
    return isinstance(target, type) and issubclass(target, Problem)


def _scan(path: Path) -> tuple[list[Found], list[str]]:
    """(msgids, f-string problem details) of one Python module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = importlib.import_module(_module_name(path))
    rel = path.relative_to(PROJECT)
    found: list[Found] = []
    fstrings: list[str] = []

    def literal(node: ast.expr | None) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return None

    for node in ast.walk(tree):
        where = f"{rel}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name == "problem" and len(node.args) >= 3 and (text := literal(node.args[2])):
                found.append(Found(text, where))
            elif name in ("msg", "_") and node.args and (text := literal(node.args[0])):
                found.append(Found(text, where))
        elif isinstance(node, ast.ClassDef):
            assigned = {
                t.id: s.value
                for s in node.body
                if isinstance(s, ast.Assign)
                for t in s.targets
                if isinstance(t, ast.Name)
            }
            if "slug" in assigned and (text := literal(assigned.get("title"))):
                found.append(Found(text, where))
        elif (
            isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and node.exc.args
            and _is_problem(module, node.exc.func)
        ):
            first = node.exc.args[0]
            if text := literal(first):
                found.append(Found(text, where))
            elif isinstance(first, ast.JoinedStr):
                fstrings.append(where)
    return found, fstrings


def _static() -> Iterator[Found]:
    for path in sorted((API / "static").glob("*.js")):
        for message in script_msgids(path):
            yield Found(message, str(path.relative_to(PROJECT)))
    for path in sorted((API / "static").glob("*.html")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in HTML_MARKER.finditer(line):
                yield Found(match.group(1), f"{path.relative_to(PROJECT)}:{lineno}")


def _load_app() -> None:
    from api.app import create_app

    create_app()  # imports every domain, so every problem type is registered


def extract() -> tuple[Catalog, list[str]]:
    """The template of every text to translate, and the f-string problem details."""
    from api.chain.errors import ERROR_PROBLEMS
    from api.errors import PROBLEM_TYPES

    _load_app()
    template = Catalog(project="crda", locale=None, fuzzy=False)
    fstrings: list[str] = []
    for path in _python_files():
        found, bad = _scan(path)
        fstrings += bad
        for f in found:
            _add(template, f)
    # The registries: a title the scan did not see (declared by a module it skips, or built
    # at run time) is still a text to translate.
    for cls in PROBLEM_TYPES.values():
        module = Path(sys.modules[cls.__module__].__file__ or "")
        where = str(module.relative_to(PROJECT)) if module.is_relative_to(PROJECT) else ""
        _add(template, Found(cls.title, where), only_new=True)
    for _status, _slug, title in ERROR_PROBLEMS.values():
        _add(template, Found(title, "api/chain/errors.py"), only_new=True)
    for f in _static():
        _add(template, f)
    return template, fstrings


def _add(template: Catalog, found: Found, *, only_new: bool = False) -> None:
    path, _, line = found.where.partition(":")
    location = (path, int(line)) if line.isdigit() else (found.where, 0)
    python_format = "{" in found.msgid
    existing = template.get(found.msgid)
    if existing is not None:
        if not only_new and location not in existing.locations:
            existing.locations.append(location)
        return
    template.add(
        found.msgid, locations=[location], flags=["python-brace-format"] if python_format else []
    )


def untranslated(template: Catalog, locale: str) -> list[str]:
    """The msgids of the template with no (or only a fuzzy) translation in ``locale``."""
    with catalogue_path(locale).open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    missing = []
    for message in template:
        if not message.id:
            continue
        have = catalog.get(message.id)
        if have is None or not have.string or have.fuzzy:
            missing.append(str(message.id))
    return missing


def untranslatable() -> list[str]:
    return extract()[1]


def export_messages() -> None:
    """Extract the texts to translate (messages.pot) and merge them into each catalogue."""
    template, fstrings = extract()
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    with TEMPLATE.open("wb") as fh:
        write_po(fh, template, omit_header=True, sort_output=True, width=100)
    console.print(f"wrote {TEMPLATE.relative_to(PROJECT)} ({len(template)} texts)")
    for locale in LOCALES[1:]:
        path = catalogue_path(locale)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
        else:
            catalog = Catalog(locale=locale, project="crda")
        catalog.update(template, no_fuzzy_matching=True)
        # A stable header: no placeholders, no dates that change with every export.
        catalog.fuzzy = False
        catalog.project, catalog.version = "crda", "1"
        catalog.language_team = catalog.last_translator = "CRDA platform team"
        catalog.msgid_bugs_address = ""
        catalog.creation_date = catalog.revision_date = FIXED_DATE
        catalog.header_comment = (
            f"# {locale} translations of the texts CRDA shows (api/i18n.py). Fill in msgstr;\n"
            "# `crda export-messages` adds each new msgid with an empty one."
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(
                fh,
                catalog,
                omit_header=False,
                sort_output=True,
                width=100,
                ignore_obsolete=True,
                include_lineno=False,
            )
        missing = untranslated(template, locale)
        console.print(f"wrote {path.relative_to(PROJECT)}: {len(missing)} texts to translate")
    for where in fstrings:
        console.print(f"[yellow]untranslatable detail[/] (use msg(...)): {where}")
