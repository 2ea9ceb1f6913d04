"""A lock wait that runs out is a retryable 409, never a hang or a 500."""

import threading

import pytest
from django.db import connections, transaction
from rest_framework.test import APIClient

from apps.bookings.models import Reservation
from apps.payments.models import Payment
from apps.sessions.models import Session, SessionSeat
from tests.conftest import DEAD_REDIS_URL, point_cache_at
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_seat_row_locked_too_long_answers_409_seats_busy(settings):
    point_cache_at(settings, DEAD_REDIS_URL)  # the database alone decides
    settings.LOCK_TIMEOUT_SECONDS = 0.5
    session = make_session()
    seat = session.seats.order_by("id").first()
    client = APIClient()
    client.force_authenticate(UserFactory())
    # Another transaction (an admin, a stuck request) sits on the seat row.
    response = _held_by_another_transaction(
        SessionSeat,
        seat.pk,
        lambda: client.post("/api/v1/reservations", {"session": session.id, "seats": [seat.id]}),
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "seats_busy"
    assert response["Retry-After"] == "1"
    assert not Reservation.objects.exists()
    # Once the other transaction is gone, the same request succeeds.
    retry = client.post("/api/v1/reservations", {"session": session.id, "seats": [seat.id]})
    assert retry.status_code == 201


def _held_by_another_transaction(model, pk, body):
    """Run `body()` while another transaction holds the row's lock; returns its result."""
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                model.objects.select_for_update().get(pk=pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(5)
        return body()
    finally:
        release.set()
        holder.join(10)


def test_cancelling_a_reservation_locked_too_long_answers_409_reservation_busy(settings):
    settings.LOCK_TIMEOUT_SECONDS = 0.5
    session = make_session()
    client = APIClient()
    client.force_authenticate(UserFactory())
    seat = session.seats.order_by("id").first()
    hold = client.post("/api/v1/reservations", {"session": session.id, "seats": [seat.id]}).json()

    response = _held_by_another_transaction(
        Reservation, hold["id"], lambda: client.delete(f"/api/v1/reservations/{hold['id']}")
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "reservation_busy"
    assert response["Retry-After"] == "1"
    assert Reservation.objects.get(pk=hold["id"]).status == "pending"
    assert client.delete(f"/api/v1/reservations/{hold['id']}").status_code == 204


def test_paying_a_payment_locked_too_long_answers_409_payment_busy(settings):
    settings.LOCK_TIMEOUT_SECONDS = 0.5
    session = make_session()
    client = APIClient()
    client.force_authenticate(UserFactory())
    seat = session.seats.order_by("id").first()
    hold = client.post("/api/v1/reservations", {"session": session.id, "seats": [seat.id]}).json()
    url = f"/api/v1/reservations/{hold['id']}/payment"
    pending = client.post(url, {"token": "tok_pix"}).json()  # its attempt, pending
    Payment.objects.filter(pk=pending["id"]).update(status="failed")  # a new attempt may start

    # A cancellation of the session is under way (its row locked FOR UPDATE): the sale waits for
    # it, under the lock timeout, after the provider approved the charge.
    response = _held_by_another_transaction(
        Session, session.id, lambda: client.post(url, {"token": "tok_visa"})
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "payment_busy"
    assert response["Retry-After"] == "1"
    assert Reservation.objects.get(pk=hold["id"]).status == "pending"
    # The provider had approved it: the attempt stays recorded, for reconciliation to finish.
    second = Payment.objects.exclude(pk=pending["id"]).get()
    assert (second.status, second.provider_reference) == ("processing", "")
