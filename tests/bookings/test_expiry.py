"""Holds end at their deadline: reads free them at once; the ETA task or the sweeper records it."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from apps.bookings import services, tasks
from apps.bookings.models import Reservation, ReservationSeat
from apps.bookings.seat_map import seat_map
from tests.factories import UserFactory, make_session
from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

TTL = 2


@pytest.fixture
def short_holds(settings):
    settings.RESERVATION_TTL_SECONDS = TTL


def _hold_two_seats():
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:2])
    client = APIClient()
    client.force_authenticate(UserFactory())
    response = client.post("/api/v1/reservations", {"session": session.id, "seats": seats})
    assert response.status_code == 201, response.content
    return session, seats, uuid.UUID(response.json()["id"])


def _statuses(session, seats) -> list[str]:
    by_id = {entry.id: entry.status for entry in seat_map(session)}
    return [by_id[seat] for seat in seats]


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_seat_map_frees_seats_right_after_the_deadline_without_any_worker(short_holds):
    session, seats, reservation_id = _hold_two_seats()
    assert _statuses(session, seats) == ["held", "held"]

    time.sleep(TTL + 0.2)

    # Nothing has swept it: the row still says pending, yet every read treats it as free.
    assert Reservation.objects.get(pk=reservation_id).status == Reservation.Status.PENDING
    assert _statuses(session, seats) == ["available", "available"]
    client = APIClient()
    client.force_authenticate(UserFactory())
    retry = client.post("/api/v1/reservations", {"session": session.id, "seats": seats})
    assert retry.status_code == 201
    assert Reservation.objects.get(pk=reservation_id).status == Reservation.Status.EXPIRED


def test_eta_task_in_a_real_worker_expires_the_hold(short_holds):
    with celery_worker(RESERVATION_TTL_SECONDS=str(TTL)):
        session, seats, reservation_id = _hold_two_seats()
        expired = _wait_for(
            lambda: Reservation.objects.get(pk=reservation_id).status == "expired", timeout=30
        )

    assert expired, "the worker did not expire the reservation at its deadline"
    reservation = Reservation.objects.get(pk=reservation_id)
    assert reservation.closed_at >= reservation.expires_at
    assert not ReservationSeat.objects.filter(reservation=reservation, is_active=True).exists()
    assert _statuses(session, seats) == ["available", "available"]


def test_holds_made_together_share_expiry_tasks_and_none_expires_early(short_holds):
    """A burst of holds lands in one consumer batch: their tasks are grouped by deadline (see
    expiry_groups), and each hold is still recorded expired at or after its own deadline."""
    with celery_worker(RESERVATION_TTL_SECONDS=str(TTL)):
        session = make_session()
        seats = list(session.seats.order_by("id").values_list("id", flat=True)[:6])
        ids = []
        for seat in seats:
            client = APIClient()
            client.force_authenticate(UserFactory())
            response = client.post("/api/v1/reservations", {"session": session.id, "seats": [seat]})
            assert response.status_code == 201, response.content
            ids.append(response.json()["id"])
        done = _wait_for(
            lambda: Reservation.objects.filter(pk__in=ids, status="expired").count() == len(ids),
            timeout=30,
        )

    assert done, "the worker did not expire every hold of the burst"
    for reservation in Reservation.objects.filter(pk__in=ids):
        assert reservation.closed_at >= reservation.expires_at
    assert not ReservationSeat.objects.filter(reservation_id__in=ids, is_active=True).exists()


def _past_the_deadline():
    """This process's clock, TTL + 1 s on. The sweeper and the expiry task compare the rows'
    deadlines with the time they pass in, so no need to wait for it."""
    return time_machine.travel(timezone.now() + timedelta(seconds=TTL + 1), tick=True)


def test_sweeper_expires_what_no_worker_ran(short_holds):
    holds = [_hold_two_seats() for _ in range(3)]

    with _past_the_deadline():
        assert tasks.sweep_expired_reservations() == 3

        for session, seats, reservation_id in holds:
            assert Reservation.objects.get(pk=reservation_id).status == Reservation.Status.EXPIRED
            assert _statuses(session, seats) == ["available", "available"]
        assert services.expire_overdue_reservations() == 0  # safe to run again


def test_sweeper_leaves_live_holds_alone(short_holds, settings):
    session, seats, reservation_id = _hold_two_seats()

    assert services.expire_overdue_reservations() == 0

    assert Reservation.objects.get(pk=reservation_id).status == Reservation.Status.PENDING
    assert _statuses(session, seats) == ["held", "held"]


def test_expiry_task_before_the_deadline_does_nothing(short_holds):
    _session, _seats, reservation_id = _hold_two_seats()

    outcome = services.reservation_expire(reservation_id=reservation_id)

    assert not outcome.expired
    assert 0 < outcome.retry_in <= TTL
    assert Reservation.objects.get(pk=reservation_id).status == Reservation.Status.PENDING


def test_expiry_of_a_cancelled_reservation_is_a_no_op(short_holds):
    _session, _seats, reservation_id = _hold_two_seats()
    owner = Reservation.objects.get(pk=reservation_id).user
    services.reservation_cancel(reservation_id=reservation_id, user=owner)

    with _past_the_deadline():
        assert not services.reservation_expire(reservation_id=reservation_id).expired
    assert Reservation.objects.get(pk=reservation_id).status == Reservation.Status.CANCELLED
