"""A lock wait that runs out is a retryable 409, never a hang or a 500."""

import threading

import pytest
from django.db import connections, transaction
from rest_framework.test import APIClient

from apps.bookings.models import Reservation
from apps.sessions.models import SessionSeat
from tests.conftest import DEAD_REDIS_URL, point_cache_at
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_seat_row_locked_too_long_answers_409_seats_busy(settings):
    point_cache_at(settings, DEAD_REDIS_URL)  # the database alone decides
    settings.LOCK_TIMEOUT_SECONDS = 0.5
    session = make_session()
    seat = session.seats.order_by("id").first()
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        # Another transaction (an admin, a stuck request) sits on the seat row.
        try:
            with transaction.atomic():
                SessionSeat.objects.select_for_update().get(pk=seat.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(5)
        client = APIClient()
        client.force_authenticate(UserFactory())
        response = client.post("/api/v1/reservations", {"session": session.id, "seats": [seat.id]})
    finally:
        release.set()
        holder.join(10)

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "seats_busy"
    assert response["Retry-After"] == "1"
    assert not Reservation.objects.exists()
    # Once the other transaction is gone, the same request succeeds.
    retry = client.post("/api/v1/reservations", {"session": session.id, "seats": [seat.id]})
    assert retry.status_code == 201
