"""Idempotency-Key on POST /api/v1/reservations, one request after another.

The concurrent case (a retry while the first request is in flight) lives with the concurrency tests.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from apps.api import tasks as api_tasks
from apps.api.idempotency import prune_idempotency_keys
from apps.api.models import IdempotencyKey
from apps.bookings import seat_map as seat_map_reads
from apps.bookings import tasks as booking_tasks
from apps.bookings.models import Reservation, ReservationSeat
from apps.sessions.models import Session
from tests.assertions import PROBLEM, assert_problem, field_errors
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.helpers import reserve, seat_ids

pytestmark = pytest.mark.django_db

URL = "/api/v1/reservations"


def snapshot(session: Session) -> dict[str, Any]:
    return {
        "reservations": sorted(Reservation.objects.values_list("id", "status")),
        "reserved_seats": sorted(
            ReservationSeat.objects.values_list("reservation_id", "session_seat_id", "is_active")
        ),
        "seat_map": {e.id: e.status for e in seat_map_reads.seat_map(session)},
        "keys": sorted(IdempotencyKey.objects.values_list("user_id", "key", "status_code")),
    }


@pytest.fixture
def other_api(db):
    return client_for(UserFactory())


def test_same_key_same_body_replays_the_first_response(user_api, user, session):
    seats = seat_ids(session, 2)
    first = reserve(user_api, session.id, seats, key="k-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    before = snapshot(session)

    replay = reserve(user_api, session.id, seats, key="k-1")

    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["Content-Type"] == "application/json"
    assert replay.content == first.content
    assert snapshot(session) == before
    assert Reservation.objects.count() == 1
    record = IdempotencyKey.objects.get()
    assert (record.user_id, record.key, record.method, record.path, record.status_code) == (
        user.id,
        "k-1",
        "POST",
        URL,
        201,
    )


def test_same_key_other_body_is_422(user_api, session):
    seats = seat_ids(session, 3)
    assert reserve(user_api, session.id, seats[:2], key="k-1").status_code == 201
    before = snapshot(session)

    response = reserve(user_api, session.id, seats[1:], key="k-1")

    assert_problem(response, 422, "idempotency_key_reused")
    assert "Idempotent-Replayed" not in response
    assert snapshot(session) == before
    assert Reservation.objects.count() == 1


def test_keys_are_per_user(user_api, other_api, session):
    seats = seat_ids(session, 2)

    mine = reserve(user_api, session.id, [seats[0]], key="shared")
    theirs = reserve(other_api, session.id, [seats[1]], key="shared")

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["id"] != theirs.json()["id"]
    assert Reservation.objects.count() == 2
    assert IdempotencyKey.objects.filter(key="shared").count() == 2


def test_a_refusal_is_stored_and_replayed(user_api, other_api, session):
    seats = seat_ids(session, 2)
    held = reserve(other_api, session.id, [seats[0]]).json()
    first = reserve(user_api, session.id, seats, key="k-409")
    body = assert_problem(first, 409, "seats_unavailable")
    assert body["unavailable_seats"] == [seats[0]]
    # The seat comes free again; the same key still answers what it answered the first time.
    assert other_api.delete(f"{URL}/{held['id']}").status_code == 204
    before = snapshot(session)

    replay = reserve(user_api, session.id, seats, key="k-409")

    assert replay.status_code == 409
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["Content-Type"] == PROBLEM
    assert replay.content == first.content
    assert snapshot(session) == before
    assert IdempotencyKey.objects.get(key="k-409").status_code == 409


def test_a_malformed_request_stores_nothing(user_api, session):
    before = snapshot(session)

    response = reserve(user_api, session.id, ["x"], key="k-bad")

    assert_problem(response, 400, "invalid")
    assert snapshot(session) == before


def test_a_business_400_is_stored_and_replayed(user_api, session):
    seat = seat_ids(session, 1)[0]
    first = reserve(user_api, session.id, [seat, seat], key="k-dup")
    assert_problem(first, 400, "duplicate_seats")
    before = snapshot(session)

    replay = reserve(user_api, session.id, [seat, seat], key="k-dup")

    assert replay.status_code == 400
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert snapshot(session) == before
    assert not Reservation.objects.exists()


def test_key_too_long_is_400(user_api, session):
    before = snapshot(session)

    response = reserve(user_api, session.id, seat_ids(session, 1), key="k" * 256)

    body = assert_problem(response, 400, "invalid_idempotency_key")
    assert field_errors(body) == {"Idempotency-Key": "invalid_idempotency_key"}
    assert snapshot(session) == before


def test_key_of_255_chars_is_accepted(user_api, session):
    response = reserve(user_api, session.id, seat_ids(session, 1), key="k" * 255)

    assert response.status_code == 201, response.content
    assert IdempotencyKey.objects.get().key == "k" * 255


def test_without_a_key_requests_are_not_replay_protected(user_api, session):
    seats = seat_ids(session, 2)

    first = reserve(user_api, session.id, [seats[0]])
    second = reserve(user_api, session.id, [seats[1]])

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert first.json()["id"] != second.json()["id"]
    assert Reservation.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


def test_prune_deletes_keys_older_than_a_day(user):
    old = IdempotencyKey.objects.create(user=user, key="old", method="POST", path=URL)
    recent = IdempotencyKey.objects.create(user=user, key="recent", method="POST", path=URL)
    fresh = IdempotencyKey.objects.create(user=user, key="fresh", method="POST", path=URL)
    now = timezone.now()
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=25))
    IdempotencyKey.objects.filter(pk=recent.pk).update(created_at=now - timedelta(hours=23))

    assert prune_idempotency_keys() == 1

    assert sorted(IdempotencyKey.objects.values_list("pk", flat=True)) == sorted(
        [recent.pk, fresh.pk]
    )
    assert prune_idempotency_keys() == 0


def test_beat_schedules_the_pruner_and_the_sweeper():
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}

    assert api_tasks.prune_idempotency_keys_task.name in scheduled
    assert booking_tasks.sweep_expired_reservations.name in scheduled
    assert scheduled >= {
        "apps.api.tasks.prune_idempotency_keys_task",
        "apps.bookings.tasks.sweep_expired_reservations",
    }
