"""`POST /reservations?hold_seconds=N`: a hold of a chosen length for trying the flow by hand,
kept to the same guarantees as any hold (its deadline in PostgreSQL, Redis keys that end with it,
expiry by the worker and the sweeper at that deadline), and refused where settings say so."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_redis import get_redis_connection

from apps.bookings import locks, tasks
from apps.bookings.models import Reservation, ReservationSeat
from tests.assertions import assert_problem, field_errors
from tests.factories import make_session
from tests.helpers import outbox, seat_ids, seat_map
from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/reservations"


@pytest.fixture
def manual_holds(settings):
    settings.RESERVATION_TTL_SECONDS = 30
    settings.TRY_FLOW_HOLD_SECONDS_MAX = 600


def _reserve(api, session, seats: list[int], hold_seconds, **headers):
    return api.post(
        f"{URL}?hold_seconds={hold_seconds}",
        {"session": session.id, "seats": seats},
        format="json",
        **headers,
    )


def _pttl_seconds(session_id: int, seat_id: int) -> float:
    return get_redis_connection("default").pttl(locks.seat_key(session_id, seat_id)) / 1000


def _seconds_left(expires_at: datetime) -> float:
    return (expires_at - timezone.now()).total_seconds()


def _nothing_held(session, seats: list[int]) -> None:
    assert not Reservation.objects.exists()
    assert not ReservationSeat.objects.exists()
    assert set(seat_map(session).values()) == {"available"}
    assert all(_pttl_seconds(session.id, seat) == -0.002 for seat in seats)  # no such key


def test_a_chosen_hold_lasts_that_long_in_postgresql_redis_and_the_event(manual_holds, user_api):
    session = make_session()
    seats = seat_ids(session, 2)

    response = _reserve(user_api, session, seats, 300)

    assert response.status_code == 201, response.content
    expires_at = parse_datetime(response.json()["expires_at"])
    assert 299 < _seconds_left(expires_at) <= 300
    assert Reservation.objects.get().expires_at == expires_at
    for seat in seats:  # the Redis keys end with the hold, not with the default 30 s
        assert _seconds_left(expires_at) - 1 < _pttl_seconds(session.id, seat) <= 300.01
    [created] = outbox("reservation.created")
    # Events carry milliseconds; expiry is scheduled from this deadline.
    assert abs(parse_datetime(created["expires_at"]) - expires_at) < timedelta(milliseconds=1)


def test_a_longer_hold_outlives_the_default_deadline_and_is_swept_at_its_own(
    manual_holds, user_api
):
    session = make_session()
    seats = seat_ids(session, 2)
    response = _reserve(user_api, session, seats, 120)
    assert response.status_code == 201, response.content
    reservation_id = uuid.UUID(response.json()["id"])

    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=True):
        assert tasks.sweep_expired_reservations() == 0
        assert Reservation.objects.get(pk=reservation_id).status == Reservation.Status.PENDING
        assert [seat_map(session)[seat] for seat in seats] == ["held", "held"]

    with time_machine.travel(timezone.now() + timedelta(seconds=121), tick=True):
        assert [seat_map(session)[seat] for seat in seats] == ["available", "available"]
        assert tasks.sweep_expired_reservations() == 1

    reservation = Reservation.objects.get(pk=reservation_id)
    assert reservation.status == Reservation.Status.EXPIRED
    assert not ReservationSeat.objects.filter(reservation=reservation, is_active=True).exists()


def test_a_shorter_hold_is_expired_by_the_worker_at_its_own_deadline(manual_holds, user_api):
    with celery_worker(RESERVATION_TTL_SECONDS="30", TRY_FLOW_HOLD_SECONDS_MAX="600"):
        session = make_session()
        seats = seat_ids(session, 1)
        response = _reserve(user_api, session, seats, 2)
        assert response.status_code == 201, response.content
        assert 0 < _pttl_seconds(session.id, seats[0]) <= 2
        reservation = Reservation.objects.get()
        deadline = time.monotonic() + 20
        while reservation.status != "expired" and time.monotonic() < deadline:
            time.sleep(0.2)
            reservation.refresh_from_db()

    assert reservation.status == Reservation.Status.EXPIRED, "the worker did not expire it"
    assert reservation.expires_at <= reservation.closed_at
    assert (reservation.closed_at - reservation.created_at).total_seconds() < 15
    assert seat_map(session)[seats[0]] == "available"


def test_refused_where_the_settings_turn_it_off(settings, user_api):
    settings.TRY_FLOW_HOLD_SECONDS_MAX = 0
    session = make_session()
    seats = seat_ids(session, 1)

    body = assert_problem(_reserve(user_api, session, seats, 60), 400, "hold_seconds_not_allowed")

    assert field_errors(body) == {"hold_seconds": "hold_seconds_not_allowed"}
    _nothing_held(session, seats)


@pytest.mark.parametrize("value", ["0", "-5", "601", "99999999999999999999"])
def test_a_length_out_of_range_is_refused(manual_holds, user_api, value):
    session = make_session()
    seats = seat_ids(session, 1)
    response = _reserve(user_api, session, seats, value)

    body = assert_problem(response, 400, "hold_seconds_out_of_range")

    assert field_errors(body) == {"hold_seconds": "hold_seconds_out_of_range"}
    assert "600" in body["detail"]
    _nothing_held(session, seats)


def test_an_empty_value_is_the_default_hold(manual_holds, user_api):
    session = make_session()

    response = _reserve(user_api, session, seat_ids(session, 1), "")

    assert response.status_code == 201, response.content
    assert 29 < _seconds_left(parse_datetime(response.json()["expires_at"])) <= 30


@pytest.mark.parametrize("value", ["abc", "2.5", "1e3"])
def test_a_length_that_is_no_whole_number_is_invalid(manual_holds, user_api, value):
    session = make_session()
    seats = seat_ids(session, 1)

    body = assert_problem(_reserve(user_api, session, seats, value), 400, "invalid")

    assert field_errors(body) == {"hold_seconds": "invalid"}
    _nothing_held(session, seats)


def test_an_idempotency_key_covers_the_chosen_length(manual_holds, user_api):
    session = make_session()
    seats = seat_ids(session, 1)
    first = _reserve(user_api, session, seats, 60, HTTP_IDEMPOTENCY_KEY="try-1")
    assert first.status_code == 201, first.content

    replay = _reserve(user_api, session, seats, 60, HTTP_IDEMPOTENCY_KEY="try-1")
    other = _reserve(user_api, session, seats, 90, HTTP_IDEMPOTENCY_KEY="try-1")

    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert_problem(other, 422, "idempotency_key_reused")
    assert Reservation.objects.count() == 1
