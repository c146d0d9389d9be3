"""CSV cells are neutralised against formula injection (OWASP): a spreadsheet shows, never runs."""

from __future__ import annotations

from api.audit.exports import neutralise

FORMULAS = ("=1+1", "+1+1", "-1+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "\r=1", "=HYPERLINK(x)")
PLAIN = ("School trip 2026", "", "-500", "1234", "-0.5", "a=b", "'already quoted")


def test_cells_that_a_spreadsheet_would_run_get_a_leading_quote() -> None:
    for text in FORMULAS:
        assert neutralise(text) == "'" + text
    for text in PLAIN:
        assert neutralise(text) == text
