"""The live seat map's feed: each committed change is one entry on the session's Redis Stream,
written after the commit, and trouble with Redis never fails the booking."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django_redis import get_redis_connection

from apps.bookings import seat_stream, services
from apps.bookings.models import Reservation
from tests.factories import hold, make_overdue
from tests.helpers import seat_ids

pytestmark = pytest.mark.django_db(transaction=True)


def _entries(session_id: int) -> list[list[dict]]:
    entries = get_redis_connection("default").xrange(seat_stream.stream_key(session_id))
    return [json.loads(fields[b"seats"]) for _, fields in entries]


def test_holds_closings_and_sales_are_published_once_committed(user, session):
    a, b = seat_ids(session, 2)
    with transaction.atomic():
        reservation = hold(user, session, seat_ids=[a, b])
        assert _entries(session.id) == []  # nothing before the commit
    assert _entries(session.id) == [[{"id": a, "status": "held"}, {"id": b, "status": "held"}]]
    make_overdue(reservation)
    services.expire_overdue_reservations()
    assert _entries(session.id)[-1] == [
        {"id": a, "status": "available"},
        {"id": b, "status": "available"},
    ]


def _hold_then_fail(user, session) -> None:
    with transaction.atomic():
        hold(user, session, seat_ids=seat_ids(session, 1))
        raise RuntimeError("rolled back")


def test_a_rolled_back_hold_publishes_nothing(user, session):
    with pytest.raises(RuntimeError):
        _hold_then_fail(user, session)
    assert _entries(session.id) == []


def test_redis_trouble_never_fails_a_booking(redis_mode, user, session):
    a = seat_ids(session, 1)[0]
    reservation = hold(user, session, seat_ids=[a])
    services.reservation_cancel(reservation_id=reservation.id, user=user)
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.CANCELLED
    if redis_mode == "redis":
        assert _entries(session.id) == [
            [{"id": a, "status": "held"}],
            [{"id": a, "status": "available"}],
        ]
