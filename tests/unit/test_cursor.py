"""Cursors are opaque, but a forged one must be refused, never reach the database."""

from __future__ import annotations

import pytest

from api.pagination import InvalidCursor, decode_cursor, encode_cursor


def test_a_cursor_round_trips() -> None:
    assert decode_cursor("transfers", encode_cursor("transfers", [12, "0xab"]), 2) == [12, "0xab"]


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**80, True, 1.5, None])
def test_a_forged_cursor_with_a_value_no_column_holds_is_refused(value: object) -> None:
    # 2**63 and beyond made SQLite raise OverflowError: a 500 instead of a 422.
    with pytest.raises(InvalidCursor):
        decode_cursor("transfers", encode_cursor("transfers", [value]), 1)
