"""The reservation body is written by hand for speed; it must stay what the documented
serializer (the OpenAPI schema's) gives, field for field and string for string."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.bookings import services
from apps.bookings.models import Reservation
from apps.bookings.selectors import reservation_queryset
from apps.bookings.serializers import ReservationOutputSerializer, reservation_data
from tests.factories import UserFactory, make_session
from tests.helpers import seat_ids

pytestmark = pytest.mark.django_db


def _both(reservation_id) -> tuple[dict, dict]:
    reservation = reservation_queryset().get(pk=reservation_id)
    return reservation_data(reservation), dict(ReservationOutputSerializer(reservation).data)


@pytest.mark.parametrize("price", [Decimal("25.01"), Decimal("9999.99"), Decimal("0.01")])
def test_the_body_is_the_serializers_for_full_and_half_price_seats(price):
    session = make_session(price=price)
    seats = seat_ids(session, 3)
    reservation = services.reservation_create(
        user=UserFactory(), session_id=session.id, seat_ids=seats, half_price=seats[:1]
    )

    mine, documented = _both(reservation.id)
    assert mine == documented
    assert [seat["type"] for seat in mine["seats"]] == ["half", "full", "full"]


def test_an_overdue_hold_reads_expired_in_both():
    session = make_session()
    reservation = services.reservation_create(
        user=UserFactory(), session_id=session.id, seat_ids=seat_ids(session, 1), half_price=[]
    )
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    mine, documented = _both(reservation.id)
    assert mine == documented
    assert mine["status"] == "expired"
