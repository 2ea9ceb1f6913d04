"""Redis seat keys: short while a request is in flight, as long as the hold once it commits."""

import uuid

import pytest
from django.utils import timezone
from django_redis import get_redis_connection

from apps.bookings import locks, services
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db(transaction=True)


def _pttl_seconds(session_id: int, seat_id: int) -> float:
    return get_redis_connection("default").pttl(locks.seat_key(session_id, seat_id)) / 1000


def test_a_committed_hold_keeps_its_keys_until_its_deadline(settings):
    settings.RESERVATION_TTL_SECONDS = 30
    session = make_session()
    seat = session.seats.order_by("id").first()

    reservation = services.reservation_create(
        user=UserFactory(), session_id=session.id, seat_ids=[seat.id]
    )

    remaining = (reservation.expires_at - timezone.now()).total_seconds()
    assert remaining - 1 < _pttl_seconds(session.id, seat.id) <= remaining + 0.01
    assert _pttl_seconds(session.id, seat.id) > locks.IN_FLIGHT_SECONDS


def test_keys_of_a_request_that_never_committed_go_within_seconds():
    session = make_session()
    seat = session.seats.order_by("id").first()

    # A web process that took the keys and died before its transaction committed.
    taken = locks.acquire_seat_keys(session_id=session.id, seat_ids=[seat.id], owner=uuid.uuid4())

    assert taken == []
    assert 0 < _pttl_seconds(session.id, seat.id) <= locks.IN_FLIGHT_SECONDS
