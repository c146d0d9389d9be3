"""Languages: Korean and English, chosen per request, translated when a text is shown.

- **Catalogues.** Texts are written once, in English, where they are declared (a problem's
  title, a detail, a page's label); the English text is the gettext ``msgid``. Translations live
  in Babel message catalogues checked in as ``api/locale/<lang>/LC_MESSAGES/messages.po`` and
  are read with Babel's ``read_po`` at first use, so there is no compiled artefact to build.
  ``crda export-messages`` extracts every msgid from the code (``messages.pot``) and merges it
  into each catalogue; tests/unit/test_i18n.py fails when a msgid lacks a Korean translation.
- **Parameters.** A text with values is a :class:`Message` (``msg("no claim {claim_id}",
  claim_id=...)``): the msgid keeps its ``{name}`` fields, translated first and filled after,
  so a translation may put the values in its own order.
- **Choosing.** :func:`negotiate` reads ``Accept-Language`` (q-values, ``ko-KR`` matching ``ko``;
  Werkzeug's parser). The API answers English when the header is absent or names no language we
  have: clients written against the English titles keep working, and the Korean app says
  ``ko``. Pages take ``?lang=`` (their switch) before the browser's language.
- **Formats.** Dates, grams and kilograms, and won in the locale's own way (Babel, CLDR data):
  ``2026년 12월 2일 오후 5:13`` (Korea time) and ``₩2,400``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_datetime, get_timezone
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_javascript
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LOCALE = "en"
# The languages we answer in; the first is the one the code is written in (msgid).
LOCALES = ("en", "ko")
# The CLDR locale each language formats with, and the time zone its dates are shown in.
_CLDR = {"en": "en_US", "ko": "ko_KR"}
CITY_TIMEZONE = "Asia/Seoul"


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


@cache
def catalogue(locale: str) -> Catalog | None:
    """The language's catalogue (read once per process), or None for the source language."""
    if locale == LOCALES[0]:
        return None
    with catalogue_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


def gettext(locale: str, text: str) -> str:
    """The translation of ``text``; the text itself where the catalogue has none (or fuzzy)."""
    cat = catalogue(locale) if locale in LOCALES else None
    if cat is None or not text:
        return text
    found = cat.get(text)
    if found is None or found.fuzzy or not found.string:
        return text
    return str(found.string)


def translator(locale: str) -> Callable[[str], str]:
    """``_ = translator(locale)``: the gettext of one language, for a page's labels."""
    return lambda text: gettext(locale, text)


@dataclass(frozen=True)
class Message:
    """A text translated when it is shown: the English msgid with ``{name}`` fields, and the
    values to fill them with."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        translated = gettext(locale, self.msgid)
        try:
            return translated.format(**self.params)
        except (KeyError, IndexError, ValueError):
            # A translation naming a field the code does not give: the English never fails.
            return self.msgid.format(**self.params)

    def __str__(self) -> str:
        return self.render()


def msg(msgid: str, /, **params: Any) -> Message:
    """A translatable text with values (extracted by ``crda export-messages``)."""
    return Message(msgid, params)


def render(text: str | Message | None, locale: str) -> str | None:
    """A plain text (itself a msgid) or a :class:`Message`, in ``locale``."""
    if text is None:
        return None
    if isinstance(text, Message):
        return text.render(locale)
    return gettext(locale, text)


def negotiate(accept_language: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The best of :data:`LOCALES` for an ``Accept-Language`` header (q-values honoured)."""
    if not accept_language:
        return default
    accept = parse_accept_header(accept_language, LanguageAccept)
    return str(accept.best_match(LOCALES, default=default))


def page_locale(lang: str | None, accept_language: str | None) -> str:
    """A page's language: its switch (``?lang=``) if it names one we have, else the browser's."""
    if lang in LOCALES:
        return str(lang)
    return negotiate(accept_language)


# -- formats ------------------------------------------------------------------------------------


def cldr(locale: str) -> str:
    return _CLDR.get(locale, _CLDR[DEFAULT_LOCALE])


def format_kilograms(grams: int, locale: str) -> str:
    """Grams shown as kilograms with three decimals: ``1,234.500 kg``."""
    return f"{format_decimal(grams / 1000, '#,##0.000', locale=cldr(locale))} kg"


def format_grams(grams: int, locale: str) -> str:
    return f"{format_decimal(grams, '#,##0', locale=cldr(locale))} g"


def format_count(value: int, locale: str) -> str:
    return str(format_decimal(value, "#,##0", locale=cldr(locale)))


def format_won(won: int, locale: str) -> str:
    return str(format_currency(won, "KRW", locale=cldr(locale)))


def format_timestamp(timestamp: int | datetime, locale: str) -> str:
    """A moment in the city's time (KST): ``2026년 12월 2일 오후 5:13 KST`` / ``Dec 2, 2026,
    5:13 PM KST``."""
    moment = (
        timestamp if isinstance(timestamp, datetime) else datetime.fromtimestamp(timestamp, UTC)
    )
    pattern = _DATETIME_PATTERNS.get(locale, _DATETIME_PATTERNS[DEFAULT_LOCALE])
    shown = format_datetime(
        moment, pattern, tzinfo=get_timezone(CITY_TIMEZONE), locale=cldr(locale)
    )
    return f"{shown} KST"


_DATETIME_PATTERNS = {"en": "MMM d, y, h:mm a", "ko": "y년 M월 d일 a h:mm"}


# -- pages with translated markers ---------------------------------------------------------------

# A static page's translatable text: {{ _("Text") }} (the msgid is the English text).
HTML_MARKER = re.compile(r"""\{\{\s*_\(\s*"((?:[^"\\]|\\.)*)"\s*\)\s*\}\}""")


def script_msgids(script: Path) -> list[str]:
    """The msgids a script marks with ``_("...")`` or ``fill("...", values)``, also inside
    template literals (Babel's JavaScript extractor)."""
    found: list[str] = []
    with script.open("rb") as fh:
        for _line, _func, message, _comments in extract_javascript(
            fh, {"_": None, "fill": None}, [], {"parse_template_string": True}
        ):
            first = message[0] if isinstance(message, tuple) else message
            if isinstance(first, str):
                found.append(first)
    return found


def render_page(page: Path, locale: str, script: Path | None = None) -> str:
    """A static HTML page in ``locale``: its markers translated (escaped), ``{{ lang }}`` the
    language, and ``{{ messages }}`` the translations its script needs, as JSON."""
    text = page.read_text(encoding="utf-8")
    text = HTML_MARKER.sub(lambda m: html.escape(gettext(locale, m.group(1))), text)
    messages = {m: gettext(locale, m) for m in script_msgids(script)} if script else {}
    # JSON inside <script type="application/json">: "</" must not close the element.
    as_json = json.dumps(messages, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    return text.replace("{{ lang }}", locale).replace("{{ messages }}", as_json)
