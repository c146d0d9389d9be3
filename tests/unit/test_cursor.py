"""Cursors are opaque, but a forged one must be refused, never reach the database."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import DateTime, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from api.pagination import InvalidCursor, PageParams, decode_cursor, encode_cursor, seek_rows


def test_a_cursor_round_trips() -> None:
    assert decode_cursor("transfers", encode_cursor("transfers", [12, "0xab"]), 2) == [12, "0xab"]


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**80, True, 1.5, None])
def test_a_forged_cursor_with_a_value_no_column_holds_is_refused(value: object) -> None:
    # 2**63 and beyond made SQLite raise OverflowError: a 500 instead of a 422.
    with pytest.raises(InvalidCursor):
        decode_cursor("transfers", encode_cursor("transfers", [value]), 1)


class _Base(DeclarativeBase):
    pass


class _Note(_Base):
    __tablename__ = "notes"
    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def test_a_timestamp_list_pages_through_rows_of_the_same_second() -> None:
    # SQLite's now() has whole seconds: every row ties, and only the id orders them. A cursor
    # carrying the timestamp itself would compare "12:00:00" with "12:00:00.000000" and repeat
    # rows; the cursor carries the id and the database reads the timestamp back.
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(_Note(id=f"n{i}") for i in range(5))
        session.commit()
        seen: list[str] = []
        cursor: str | None = None
        while True:
            rows = seek_rows(
                session,
                "notes",
                select(_Note),
                _Note.created_at,
                _Note.id,
                PageParams(2, cursor),
                desc=True,
            )
            seen += [r.id for r in rows.rows]
            if (cursor := rows.next_cursor) is None:
                break
    assert seen == ["n4", "n3", "n2", "n1", "n0"]
