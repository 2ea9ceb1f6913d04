"""The partial unique index is the last guard: even with the Python checks gone, no double hold."""

import pytest
from django.db import IntegrityError

from apps.bookings import services
from apps.bookings.errors import SeatsUnavailable
from apps.bookings.models import Reservation, ReservationSeat
from tests.conftest import DEAD_REDIS_URL, point_cache_at
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_python_checks(monkeypatch, settings):
    """Skip the Redis fast path and the row re-check, as a bug in either would."""
    point_cache_at(settings, DEAD_REDIS_URL)
    monkeypatch.setattr(services, "_free_overdue_holders", lambda seat_ids, now: None)


def test_a_second_hold_on_a_seat_is_refused_by_postgresql(no_python_checks):
    session = make_session()
    seat = session.seats.order_by("id").first()
    first = services.reservation_create(
        user=UserFactory(), session_id=session.id, seat_ids=[seat.id]
    )

    with pytest.raises(SeatsUnavailable) as refused:
        services.reservation_create(user=UserFactory(), session_id=session.id, seat_ids=[seat.id])

    assert refused.value.seat_ids == [seat.id]
    assert list(Reservation.objects.values_list("id", flat=True)) == [first.id]
    assert ReservationSeat.objects.filter(session_seat=seat, is_active=True).count() == 1


def test_the_index_itself_rejects_a_second_active_row(no_python_checks):
    session = make_session()
    seat = session.seats.order_by("id").first()
    held = services.reservation_create(
        user=UserFactory(), session_id=session.id, seat_ids=[seat.id]
    )
    other = Reservation.objects.create(
        user=UserFactory(), session=session, expires_at=held.expires_at, total=1
    )

    with pytest.raises(IntegrityError, match="bookings_one_active_hold_per_seat"):
        ReservationSeat.objects.create(reservation=other, session_seat=seat, price=1)
