"""The open data's buckets and suppression rules on small hand-made tables (pure logic)."""

from __future__ import annotations

from datetime import date

from api.opendata.service import Event, bucket_end, bucket_of, bucket_start, protected


def test_buckets_are_calendar_days_iso_weeks_and_months() -> None:
    new_year = date(2026, 12, 31)
    assert bucket_of(new_year, "day") == "2026-12-31"
    assert bucket_of(new_year, "week") == "2026-W53"  # ISO: 2026 has 53 weeks
    assert bucket_of(date(2027, 1, 3), "week") == "2026-W53"
    assert bucket_of(new_year, "month") == "2026-12"
    assert bucket_end("2026-12", "month") == date(2027, 1, 1)
    assert bucket_start("2026-W53", "week") == date(2026, 12, 28)
    assert bucket_end("2026-W53", "week") == date(2027, 1, 4)


def _crowd(day: date, key: str, n: int, tag: str) -> list[Event]:
    return [Event(day, key, f"{tag}{i}", {"co2e_g": 100, "activities": 1}) for i in range(n)]


def test_a_small_cell_takes_the_smallest_other_cell_with_it_and_its_week() -> None:
    monday, tuesday = date(2026, 10, 5), date(2026, 10, 6)
    events = [
        *_crowd(monday, "a", 15, "a"),
        *_crowd(monday, "b", 12, "b"),
        *_crowd(monday, "c", 2, "c"),  # small
        *_crowd(tuesday, "a", 15, "a"),
        *_crowd(tuesday, "c", 11, "d"),
    ]
    days = protected(events, ("a", "b", "c"), "day", 10, complementary=True)
    shown = {key: not cell.suppressed for key, cell in days["2026-10-05"].items()}
    assert shown == {"a": True, "b": False, "c": False}  # b goes with c (2 < 10)
    assert not days["2026-10-06"]["c"].suppressed  # 11 others on Tuesday
    week = protected(events, ("a", "b", "c"), "week", 10, complementary=True)["2026-W41"]
    # c's week (13 citizens) minus Tuesday's 11 would give Monday's 2, and b's week is Monday's
    # b alone (hidden on Monday so that Monday's total minus a would not give c away): both go.
    assert week["c"].suppressed and week["b"].suppressed and not week["a"].suppressed
