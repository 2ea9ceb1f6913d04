"""`attach_prefetched` is the one place that fills Django's prefetch cache by hand (the answers of
a reservation and a payment are rendered from memory). It leans on Django's internals, so this
test fails the day Django changes how prefetched results are kept."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.bookings import services
from apps.bookings.models import Reservation
from apps.core.prefetch import attach_prefetched
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db


def test_attached_children_are_served_without_a_query_and_other_lookups_still_query():
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:3])
    held = services.reservation_create(user=UserFactory(), session_id=session.id, seat_ids=seats)
    reservation = Reservation.objects.get(pk=held.id)
    rows = list(reservation.seats.order_by("-session_seat_id"))

    attach_prefetched(reservation, "seats", rows)

    with CaptureQueriesContext(connection) as queries:
        assert list(reservation.seats.all()) == rows  # the attached list, in its own order
        assert reservation.seats.count() == 3
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        first = reservation.seats.filter(session_seat_id=seats[0]).get()
    assert len(queries) == 1  # anything but all() asks the database, as after prefetch_related
    assert first.session_seat_id == seats[0]
