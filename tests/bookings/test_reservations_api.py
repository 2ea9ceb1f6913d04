import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.bookings import services
from apps.bookings.models import Reservation, ReservationSeat
from apps.sessions import services as session_services
from apps.sessions.models import Session
from tests.assertions import assert_problem, field_errors
from tests.conftest import client_for
from tests.factories import UserFactory, make_room, make_session
from tests.helpers import reserve, seat_ids, seat_map

pytestmark = pytest.mark.django_db

URL = "/api/v1/reservations"


def snapshot(session: Session) -> dict[str, Any]:
    """Everything a rejected reservation call must leave untouched."""
    return {
        "reservations": sorted(Reservation.objects.values_list("id", "status", "expires_at")),
        "reserved_seats": sorted(
            ReservationSeat.objects.values_list("reservation_id", "session_seat_id", "is_active")
        ),
        "seat_map": seat_map(session),
    }


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def other_api(other_user):
    return client_for(other_user)


# --- create ----------------------------------------------------------------------------------


def test_create_holds_the_seats(user_api, user, session, settings):
    seats = seat_ids(session, 2)
    before = timezone.now()

    response = reserve(user_api, session.id, seats)

    after = timezone.now()
    assert response.status_code == 201, response.content
    body = response.json()
    reservation = Reservation.objects.get()
    labels = dict(session.seats.filter(id__in=seats).values_list("id", "seat__label"))
    assert body == {
        "id": str(reservation.id),
        "session": session.id,
        "seats": [
            {"id": seat_id, "label": labels[seat_id], "type": "full", "price": "25.00"}
            for seat_id in seats
        ],
        "status": "pending",
        "expires_at": body["expires_at"],
        "total": "50.00",
    }
    assert [labels[seats[0]], labels[seats[1]]] == ["A1", "A2"]
    ttl = timedelta(seconds=settings.RESERVATION_TTL_SECONDS)
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert before + ttl <= expires_at <= after + ttl
    assert response["Location"] == f"/api/v1/reservations/{reservation.id}"

    assert reservation.user == user
    assert reservation.session == session
    assert reservation.status == Reservation.Status.PENDING
    assert reservation.expires_at == expires_at
    assert reservation.total == session.price * 2 == Decimal("50.00")
    assert sorted(ReservationSeat.objects.values_list("session_seat_id", "price", "is_active")) == [
        (seat_id, Decimal("25.00"), True) for seat_id in seats
    ]


def test_seat_map_shows_held_seats(user_api, api, session):
    seats = seat_ids(session, 3)
    assert reserve(user_api, session.id, seats[:2]).status_code == 201

    response = api.get(f"/api/v1/sessions/{session.id}/seats")

    assert response.status_code == 200
    by_id = {entry["id"]: entry["status"] for entry in response.json()}
    assert len(by_id) == 20
    assert by_id[seats[0]] == by_id[seats[1]] == "held"
    assert [status for seat_id, status in by_id.items() if seat_id not in seats[:2]] == [
        "available"
    ] * 18


def test_create_anonymous_is_401(api, session):
    before = snapshot(session)

    response = reserve(api, session.id, seat_ids(session, 1))

    assert_problem(response, 401, "not_authenticated")
    assert snapshot(session) == before


def test_create_unknown_session_is_404(user_api, session):
    before = snapshot(session)

    response = reserve(user_api, session.id + 1000, seat_ids(session, 1))

    assert_problem(response, 404, "not_found")
    assert snapshot(session) == before


@pytest.mark.parametrize(
    ("seats", "field", "code"),
    [
        ([], "seats", "empty"),
        (["x"], "seats.0", "invalid"),
        ([1.5], "seats.0", "invalid"),
    ],
    ids=["empty", "not-an-integer", "float"],
)
def test_create_malformed_seats_is_400(user_api, session, seats, field, code):
    before = snapshot(session)

    response = reserve(user_api, session.id, seats)

    body = assert_problem(response, 400, "invalid")
    assert field_errors(body) == {field: code}
    assert snapshot(session) == before


def test_create_duplicate_seats_is_400(user_api, session):
    seat = seat_ids(session, 1)[0]
    before = snapshot(session)

    response = reserve(user_api, session.id, [seat, seat])

    body = assert_problem(response, 400, "duplicate_seats")
    assert field_errors(body) == {"seats": "duplicate_seats"}
    assert snapshot(session) == before


def test_create_too_many_seats_is_400(user_api, session, settings):
    assert settings.MAX_SEATS_PER_RESERVATION == 10
    before = snapshot(session)

    response = reserve(user_api, session.id, seat_ids(session, 11))

    body = assert_problem(response, 400, "too_many_seats")
    assert field_errors(body) == {"seats": "too_many_seats"}
    assert snapshot(session) == before


def test_create_exactly_max_seats_is_201(user_api, session):
    response = reserve(user_api, session.id, seat_ids(session, 10))

    assert response.status_code == 201, response.content
    assert len(response.json()["seats"]) == 10
    assert response.json()["total"] == "250.00"


def test_create_seats_of_another_session_is_400(user_api, session):
    other = make_session()
    foreign = seat_ids(other, 1)
    before = snapshot(session)

    response = reserve(user_api, session.id, [seat_ids(session, 1)[0], *foreign])

    body = assert_problem(response, 400, "invalid_seats")
    assert field_errors(body) == {"seats": "invalid_seats"}
    assert str(foreign[0]) in body["detail"]
    assert snapshot(session) == before
    assert seat_map(other) == dict.fromkeys(seat_map(other), "available")


def test_create_for_started_session_is_400(user_api, session):
    Session.objects.filter(pk=session.pk).update(starts_at=timezone.now() - timedelta(minutes=1))
    before = snapshot(session)

    response = reserve(user_api, session.id, seat_ids(session, 1))

    assert_problem(response, 400, "session_not_open")
    assert snapshot(session) == before


def test_create_for_cancelled_session_is_400(user_api, session):
    session_services.session_cancel(session=session)
    before = snapshot(session)

    response = reserve(user_api, session.id, seat_ids(session, 1))

    assert_problem(response, 400, "session_not_open")
    assert snapshot(session) == before


def test_create_with_one_seat_taken_is_409_and_takes_nothing(user_api, other_api, session):
    taken, free = seat_ids(session, 2)
    assert reserve(user_api, session.id, [taken]).status_code == 201
    before = snapshot(session)

    response = reserve(other_api, session.id, [taken, free])

    body = assert_problem(response, 409, "seats_unavailable")
    assert body["unavailable_seats"] == [taken]
    assert snapshot(session) == before
    assert seat_map(session)[free] == "available"
    # The other seat is really free, not just shown so: the loser can take it alone.
    assert reserve(other_api, session.id, [free]).status_code == 201


def test_database_refuses_a_held_seat_without_the_redis_keys(user_api, other_api, session):
    """Invariant 5: with the fast-path keys gone, PostgreSQL alone still refuses."""
    taken, free = seat_ids(session, 2)
    assert reserve(user_api, session.id, [taken]).status_code == 201
    cache.clear()  # drops the seat keys
    before = snapshot(session)

    response = reserve(other_api, session.id, [free, taken])

    body = assert_problem(response, 409, "seats_unavailable")
    assert body["unavailable_seats"] == [taken]
    assert snapshot(session) == before


# --- read --------------------------------------------------------------------------------------


def test_owner_reads_reservation(user_api, session):
    created = reserve(user_api, session.id, seat_ids(session, 2)).json()

    response = user_api.get(f"{URL}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


def test_other_user_gets_404(user_api, other_api, session):
    created = reserve(user_api, session.id, seat_ids(session, 1)).json()

    assert_problem(other_api.get(f"{URL}/{created['id']}"), 404, "not_found")


def test_staff_reads_any_reservation(user_api, staff_api, session):
    created = reserve(user_api, session.id, seat_ids(session, 1)).json()

    response = staff_api.get(f"{URL}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


def test_unknown_reservation_is_404(user_api):
    assert_problem(user_api.get(f"{URL}/{uuid.uuid4()}"), 404, "not_found")


def test_read_anonymous_is_401(user_api, api, session):
    created = reserve(user_api, session.id, seat_ids(session, 1)).json()

    assert_problem(api.get(f"{URL}/{created['id']}"), 401, "not_authenticated")


# --- cancel ------------------------------------------------------------------------------------


def test_owner_cancels_pending_reservation(
    user_api, other_api, session, django_capture_on_commit_callbacks
):
    seats = seat_ids(session, 2)
    created = reserve(user_api, session.id, seats).json()
    assert {seat_map(session)[seat_id] for seat_id in seats} == {"held"}

    with django_capture_on_commit_callbacks(execute=True):  # releases the seat keys
        response = user_api.delete(f"{URL}/{created['id']}")

    assert response.status_code == 204
    assert response.content == b""
    reservation = Reservation.objects.get(pk=created["id"])
    assert reservation.status == Reservation.Status.CANCELLED
    assert reservation.closed_at is not None
    assert not ReservationSeat.objects.filter(is_active=True).exists()
    assert set(seat_map(session).values()) == {"available"}
    assert user_api.get(f"{URL}/{created['id']}").json()["status"] == "cancelled"
    # Free at once, for everybody.
    assert reserve(other_api, session.id, seats).status_code == 201


def test_cancel_twice_is_409(user_api, session):
    created = reserve(user_api, session.id, seat_ids(session, 1)).json()
    assert user_api.delete(f"{URL}/{created['id']}").status_code == 204
    before = snapshot(session)

    response = user_api.delete(f"{URL}/{created['id']}")

    assert_problem(response, 409, "reservation_not_pending")
    assert snapshot(session) == before


@pytest.mark.parametrize("who", ["other", "staff"])
def test_cancel_by_someone_else_is_404(user_api, other_api, staff_api, session, who):
    created = reserve(user_api, session.id, seat_ids(session, 1)).json()
    before = snapshot(session)

    client = other_api if who == "other" else staff_api
    response = client.delete(f"{URL}/{created['id']}")

    assert_problem(response, 404, "not_found")
    assert snapshot(session) == before
    assert Reservation.objects.get().status == Reservation.Status.PENDING


def test_cancel_unknown_is_404(user_api, session):
    before = snapshot(session)

    assert_problem(user_api.delete(f"{URL}/{uuid.uuid4()}"), 404, "not_found")
    assert snapshot(session) == before


# --- expiry (invariant 6) ----------------------------------------------------------------------


def test_hold_past_its_deadline_is_free_at_once(user_api, other_api, session, settings):
    settings.RESERVATION_TTL_SECONDS = 1  # the Redis keys get the same 1 s TTL
    seats = seat_ids(session, 2)
    created = reserve(user_api, session.id, seats).json()
    assert {seat_map(session)[seat_id] for seat_id in seats} == {"held"}

    time.sleep(1.1)

    # No worker ran: the row is still pending, yet every read treats the hold as gone.
    assert Reservation.objects.get().status == Reservation.Status.PENDING
    assert set(seat_map(session).values()) == {"available"}
    assert user_api.get(f"{URL}/{created['id']}").json()["status"] == "expired"

    settings.RESERVATION_TTL_SECONDS = 30
    response = reserve(other_api, session.id, [seats[0]])

    assert response.status_code == 201, response.content
    old = Reservation.objects.get(pk=created["id"])
    assert old.status == Reservation.Status.EXPIRED
    assert old.closed_at is not None
    assert not ReservationSeat.objects.filter(reservation=old, is_active=True).exists()
    new_map = seat_map(session)
    assert new_map[seats[0]] == "held"
    assert new_map[seats[1]] == "available"


def test_cancel_of_an_overdue_hold_is_409_and_expires_it(user_api, session):
    created = reserve(user_api, session.id, seat_ids(session, 2)).json()
    Reservation.objects.filter(pk=created["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = user_api.delete(f"{URL}/{created['id']}")

    assert_problem(response, 409, "reservation_not_pending")
    reservation = Reservation.objects.get(pk=created["id"])
    assert reservation.status == Reservation.Status.EXPIRED
    assert not ReservationSeat.objects.filter(is_active=True).exists()
    assert set(seat_map(session).values()) == {"available"}


# --- seat map cost -----------------------------------------------------------------------------


def _seat_map_queries(api, session: Session) -> tuple[int, dict[int, str]]:
    users = UserFactory.create_batch(2)
    seats = seat_ids(session, 4)
    services.reservation_create(user=users[0], session_id=session.id, seat_ids=seats[:2])
    sold = services.reservation_create(user=users[1], session_id=session.id, seat_ids=seats[2:])
    Reservation.objects.filter(pk=sold.pk).update(status=Reservation.Status.CONFIRMED)

    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/api/v1/sessions/{session.id}/seats")

    assert response.status_code == 200
    by_id = {entry["id"]: entry["status"] for entry in response.json()}
    assert [by_id[seat_id] for seat_id in seats] == ["held", "held", "sold", "sold"]
    return len(queries), by_id


def test_seat_map_query_count_does_not_grow_with_the_room(api):
    small = make_session()
    large = make_session(room=make_room(rows=15, seats_per_row=20))

    small_queries, small_map = _seat_map_queries(api, small)
    large_queries, large_map = _seat_map_queries(api, large)

    assert len(small_map) == 20
    assert len(large_map) == 300
    assert list(large_map.values()).count("available") == 296
    assert small_queries == large_queries
    assert small_queries <= 3
