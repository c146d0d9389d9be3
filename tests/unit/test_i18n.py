"""Every text the platform shows has its Korean translation, and translations keep the values.

The texts are extracted from the code as ``crda export-messages`` extracts them (problem titles,
the details problems are raised with, ``msg(...)``, the pages' ``_(...)``); the translations are
api/locale/ko/LC_MESSAGES/messages.po. To add one: run ``crda export-messages`` (the msgid
arrives with an empty msgstr) and fill in the msgstr, or paste the entry the failure prints.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from api.cli.messages import extract, untranslated
from api.errors import PROBLEM_TYPES
from api.i18n import (
    LOCALES,
    catalogue_path,
    format_kilograms,
    format_timestamp,
    format_won,
    gettext,
    msg,
    negotiate,
)

TEMPLATE, FSTRINGS = extract()


def _po_entry(template: Catalog, msgid: str) -> str:
    found = template.get(msgid)
    where = " ".join(f"{p}:{n}" if n else p for p, n in found.locations) if found else ""
    quoted = msgid.replace("\\", "\\\\").replace('"', '\\"')
    return f'#: {where}\nmsgid "{quoted}"\nmsgstr ""\n'


def test_every_text_has_a_korean_translation() -> None:
    assert len(TEMPLATE) > 150  # the extraction found the problems, details and pages
    for locale in LOCALES[1:]:
        missing = untranslated(TEMPLATE, locale)
        assert not missing, (
            f"{len(missing)} text(s) have no {locale} translation in "
            f"{catalogue_path(locale)}; add (or run `crda export-messages` and fill in):\n\n"
            + "\n".join(_po_entry(TEMPLATE, m) for m in missing)
        )


def test_every_declared_problem_title_is_in_the_catalogue() -> None:
    # Also the types registered at run time (not only those the extraction saw in the code).
    for slug, cls in PROBLEM_TYPES.items():
        assert TEMPLATE.get(cls.title) is not None, f"problem {slug}: title {cls.title!r}"
        assert gettext("ko", cls.title) != cls.title, f"problem {slug}: no Korean title"


def test_problem_details_are_never_f_strings() -> None:
    # An f-string's values are already inside the text, so it cannot be translated.
    assert not FSTRINGS, "raise these with msg('... {name} ...', name=value): " + ", ".join(
        FSTRINGS
    )


def test_translations_keep_every_value_and_no_stale_entries() -> None:
    fields = string.Formatter()
    for locale in LOCALES[1:]:
        with catalogue_path(locale).open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        stale = [m.id for m in catalog if m.id and TEMPLATE.get(m.id) is None]
        assert not stale, f"not in the code any more (run `crda export-messages`): {stale}"
        for message in catalog:
            if not message.id or not message.string:
                continue
            names = {f for _, f, _, _ in fields.parse(str(message.id)) if f is not None}
            got = {f for _, f, _, _ in fields.parse(str(message.string)) if f is not None}
            assert names == got, f"{message.id!r} -> {message.string!r}: fields differ"


def test_messages_negotiation_and_formats() -> None:
    detail = msg("no claim {claim_id}", claim_id="0xab")
    assert (detail.render("en"), detail.render("ko")) == (
        "no claim 0xab",
        "청구 건 0xab이(가) 없습니다",
    )
    assert str(detail) == "no claim 0xab"
    assert gettext("ko", "a text no catalogue has") == "a text no catalogue has"
    assert negotiate("de-DE, ko;q=0.4, en;q=0.3") == "ko"
    assert format_won(1_234_500, "ko") == "₩1,234,500"
    assert format_kilograms(1_500, "ko") == "1.500 kg"
    moment = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    assert format_timestamp(moment, "ko") == "2026년 12월 2일 오후 5:30 KST"
    assert format_timestamp(moment, "en") == "Dec 2, 2026, 5:30 PM KST"
