"""Grouping of hold deadlines into expiry tasks (pure logic; the real worker is tested in
test_expiry.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.bookings.expiry_groups import deadline_groups

T0 = datetime(2026, 1, 1, 19, 0, tzinfo=UTC)
WINDOW = timedelta(milliseconds=200)


def _at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def test_no_holds_no_groups():
    assert deadline_groups([], window=WINDOW) == []


def test_holds_within_the_window_share_a_task_due_at_the_latest_deadline():
    groups = deadline_groups([("b", _at(150)), ("a", _at(0)), ("c", _at(200))], window=WINDOW)

    assert [(g.reservation_ids, g.due) for g in groups] == [(["a", "b", "c"], _at(200))]


def test_a_deadline_past_the_window_starts_a_new_group():
    holds = [("a", _at(0)), ("b", _at(201)), ("c", _at(300)), ("d", _at(402)), ("e", _at(5000))]

    groups = deadline_groups(holds, window=WINDOW)

    assert [(g.reservation_ids, g.due) for g in groups] == [
        (["a"], _at(0)),
        (["b", "c"], _at(300)),
        (["d"], _at(402)),
        (["e"], _at(5000)),
    ]


def test_no_hold_is_due_before_its_deadline_nor_later_than_the_window_after_it():
    holds = [(str(i), _at(i * 37 % 1000)) for i in range(200)]
    deadlines = dict(holds)

    groups = deadline_groups(holds, window=WINDOW)

    assert sorted(i for g in groups for i in g.reservation_ids) == sorted(deadlines)
    for group in groups:
        for reservation_id in group.reservation_ids:
            assert deadlines[reservation_id] <= group.due <= deadlines[reservation_id] + WINDOW
