from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.sessions.models import Session, SessionSeat
from tests.assertions import assert_problem, db_state, field_errors
from tests.factories import CinemaFactory, MovieFactory, make_room, make_session

pytestmark = pytest.mark.django_db


def local(days: int, hour: int, minute: int = 0) -> datetime:
    """An aware datetime `days` from today at hour:minute, local time (America/Sao_Paulo)."""
    date = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(datetime.combine(date, time(hour, minute)))


@pytest.fixture
def movie():
    return MovieFactory(duration_minutes=100)


@pytest.fixture
def room():
    return make_room()  # 20 seats


def payload(movie_, room_, **overrides):
    return {
        "movie": movie_.id,
        "room": room_.id,
        "starts_at": local(2, 19).isoformat(),
        "price": "25.00",
        **overrides,
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [session["id"] for session in response.json()["results"]]


def test_list_is_paginated_in_start_order(api):
    late = make_session(starts_at=local(3, 20))
    early = make_session(starts_at=local(1, 14))
    middle = make_session(starts_at=local(2, 16))

    body = api.get("/api/v1/sessions", {"page_size": 2}).json()

    assert body["count"] == 3
    assert body["previous"] is None
    assert body["next"] is not None
    assert [s["id"] for s in body["results"]] == [early.id, middle.id]
    last = api.get(body["next"]).json()
    assert [s["id"] for s in last["results"]] == [late.id]
    assert last["next"] is None
    assert last["previous"] is not None


def test_retrieve(api):
    session = make_session(starts_at=local(1, 19), price=Decimal("31.50"))
    room, movie = session.room, session.movie

    response = api.get(f"/api/v1/sessions/{session.id}", HTTP_ACCEPT_LANGUAGE="pt-BR")

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": session.id,
        "movie": {"id": movie.id, "title": movie.title_pt_br},
        "room": {
            "id": room.id,
            "name": room.name,
            "cinema": {"id": room.cinema.id, "name": room.cinema.name, "city": room.cinema.city},
        },
        "starts_at": body["starts_at"],
        "ends_at": body["ends_at"],
        "price": "31.50",
        "prices": {"full": "31.50", "half": "15.75"},
        "status": "scheduled",
    }
    assert datetime.fromisoformat(body["starts_at"]) == local(1, 19)
    assert datetime.fromisoformat(body["ends_at"]) == local(1, 21)  # 120-minute movie


def test_retrieve_unknown_id_is_404_problem(api):
    assert_problem(api.get("/api/v1/sessions/999999"), 404, "not_found")


def test_staff_creates_session_with_the_rooms_seats(staff_api, movie, room):
    response = staff_api.post("/api/v1/sessions", payload(movie, room))

    assert response.status_code == 201, response.content
    session = Session.objects.get()
    body = response.json()
    assert body["id"] == session.id
    assert body["movie"]["id"] == movie.id
    assert body["room"]["id"] == room.id
    assert body["price"] == "25.00"
    assert body["status"] == "scheduled"
    assert session.starts_at == local(2, 19)
    assert session.ends_at == local(2, 19) + timedelta(minutes=100)
    assert session.price == Decimal("25.00")
    assert set(session.seats.values_list("seat_id", flat=True)) == set(
        room.seats.values_list("id", flat=True)
    )
    assert session.seats.count() == 20


def test_anonymous_create_is_401(api, movie, room):
    before = db_state()

    assert_problem(api.post("/api/v1/sessions", payload(movie, room)), 401, "not_authenticated")

    assert db_state() == before


def test_non_staff_create_is_403(user_api, movie, room):
    before = db_state()

    response = user_api.post("/api/v1/sessions", payload(movie, room))

    assert_problem(response, 403, "permission_denied")
    assert db_state() == before


def test_missing_fields(staff_api):
    before = db_state()

    body = assert_problem(staff_api.post("/api/v1/sessions", {}), 400, "invalid")

    assert field_errors(body) == {
        "movie": "required",
        "room": "required",
        "starts_at": "required",
        "price": "required",
    }
    assert db_state() == before


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"price": "0"}, "price", "min_value"),
        ({"price": "0.00"}, "price", "min_value"),
        ({"price": "-5.00"}, "price", "min_value"),
        ({"price": "cheap"}, "price", "invalid"),
        ({"price": "1.999"}, "price", "max_decimal_places"),
        ({"starts_at": "tomorrow at seven"}, "starts_at", "invalid"),
        ({"starts_at": 1700000000}, "starts_at", "invalid"),
        ({"movie": "first"}, "movie", "incorrect_type"),
        ({"movie": 999999}, "movie", "does_not_exist"),
        ({"room": 999999}, "room", "does_not_exist"),
    ],
)
def test_invalid_values(staff_api, movie, room, overrides, field, code):
    before = db_state()

    response = staff_api.post("/api/v1/sessions", payload(movie, room, **overrides))

    body = assert_problem(response, 400, "invalid")
    assert field_errors(body) == {field: code}
    assert db_state() == before


def test_zero_price_message_is_translated(staff_api, movie, room):
    en = staff_api.post(
        "/api/v1/sessions", payload(movie, room, price="0"), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert en.json()["detail"] == "The price must be greater than zero."
    assert Session.objects.count() == 0


def test_malformed_json_body(staff_api):
    before = db_state()

    response = staff_api.post(
        "/api/v1/sessions", data='{"movie": 1,}', content_type="application/json"
    )

    assert_problem(response, 400, "malformed_request")
    assert db_state() == before


def test_room_with_fewer_than_16_seats_is_rejected(staff_api, movie):
    small = make_room(rows=3, seats_per_row=5)  # 15 seats
    before = db_state()

    response = staff_api.post("/api/v1/sessions", payload(movie, small), HTTP_ACCEPT_LANGUAGE="en")

    body = assert_problem(response, 400, "too_few_seats")
    assert body["detail"] == "The room has 15 seats for sale; a session needs at least 16."
    assert field_errors(body) == {"room": "too_few_seats"}
    assert db_state() == before


def test_room_with_exactly_16_seats_is_accepted(staff_api, movie):
    room = make_room(rows=4, seats_per_row=4)

    response = staff_api.post("/api/v1/sessions", payload(movie, room))

    assert response.status_code == 201, response.content
    assert SessionSeat.objects.filter(session_id=response.json()["id"]).count() == 16


def test_start_in_the_past_is_rejected(staff_api, movie, room):
    before = db_state()
    past = (timezone.now() - timedelta(minutes=1)).isoformat()

    response = staff_api.post("/api/v1/sessions", payload(movie, room, starts_at=past))

    body = assert_problem(response, 400, "session_in_past")
    assert field_errors(body) == {"starts_at": "session_in_past"}
    assert db_state() == before


def test_overlap_in_the_same_room_is_rejected(staff_api, movie, room):
    make_session(room=room, starts_at=local(2, 18))  # 18:00-20:00
    before = db_state()

    response = staff_api.post(
        "/api/v1/sessions", payload(movie, room, starts_at=local(2, 19).isoformat())
    )

    body = assert_problem(response, 400, "session_overlap")
    assert field_errors(body) == {"starts_at": "session_overlap"}
    assert db_state() == before


def test_same_time_in_another_room_is_accepted(staff_api, movie, room):
    make_session(room=room, starts_at=local(2, 19))
    other = make_room(cinema=room.cinema)

    response = staff_api.post("/api/v1/sessions", payload(movie, other))

    assert response.status_code == 201, response.content
    assert Session.objects.filter(starts_at=local(2, 19)).count() == 2


def test_filter_by_movie(api, movie):
    mine = make_session(movie=movie)
    make_session()

    assert ids(api.get("/api/v1/sessions", {"movie": movie.id})) == [mine.id]


def test_filter_by_room(api, room):
    mine = make_session(room=room)
    make_session()

    assert ids(api.get("/api/v1/sessions", {"room": room.id})) == [mine.id]


def test_filter_by_cinema(api):
    cinema = CinemaFactory()
    first = make_session(room=make_room(cinema=cinema), starts_at=local(1, 14))
    second = make_session(room=make_room(cinema=cinema), starts_at=local(1, 15))
    make_session()

    assert ids(api.get("/api/v1/sessions", {"cinema": cinema.id})) == [first.id, second.id]


def test_filter_by_local_date(api, room):
    # 22:30 in São Paulo is already the next day in UTC: the date filter uses local dates.
    late = make_session(room=room, starts_at=local(1, 22, 30))
    make_session(room=room, starts_at=local(2, 1))
    make_session(starts_at=local(3, 14))

    date = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert ids(api.get("/api/v1/sessions", {"date": date})) == [late.id]


def test_filter_starts_after(api, room):
    make_session(room=room, starts_at=local(1, 14))
    exact = make_session(room=room, starts_at=local(1, 19))
    later = make_session(room=room, starts_at=local(2, 19))

    response = api.get("/api/v1/sessions", {"starts_after": local(1, 19).isoformat()})

    assert ids(response) == [exact.id, later.id]


def test_filters_combine(api, movie, room):
    wanted = make_session(movie=movie, room=room, starts_at=local(2, 19))
    make_session(movie=movie, room=room, starts_at=local(1, 19))
    make_session(room=make_room(cinema=room.cinema), starts_at=local(2, 19))

    response = api.get(
        "/api/v1/sessions",
        {"movie": movie.id, "cinema": room.cinema.id, "starts_after": local(2, 0).isoformat()},
    )

    assert ids(response) == [wanted.id]


def test_invalid_filter_value_is_400_problem(api):
    response = api.get("/api/v1/sessions", {"date": "someday"})

    body = assert_problem(response, 400, "invalid")
    assert field_errors(body) == {"date": "invalid"}


def test_list_query_count_does_not_grow_with_rows(api, django_assert_num_queries):
    make_session(starts_at=local(1, 10))
    with django_assert_num_queries(2):  # count + page joined to movie, room and cinema
        assert len(api.get("/api/v1/sessions").json()["results"]) == 1

    for day in range(2, 12):
        make_session(starts_at=local(day, 10))
    with django_assert_num_queries(2):
        assert len(api.get("/api/v1/sessions").json()["results"]) == 11


def test_staff_cancels_a_session(staff_api, session):
    response = staff_api.post(f"/api/v1/sessions/{session.id}/cancel")

    assert response.status_code == 202, response.content
    assert response.json() == {"session": session.id, "status": "cancelled", "sales_to_refund": 0}
    session.refresh_from_db()
    assert session.status == Session.Status.CANCELLED
    assert staff_api.get(f"/api/v1/sessions/{session.id}").json()["status"] == "cancelled"


def test_cancelling_twice_resumes_the_refunds_and_changes_nothing_else(staff_api, session):
    staff_api.post(f"/api/v1/sessions/{session.id}/cancel")
    before = db_state()

    response = staff_api.post(f"/api/v1/sessions/{session.id}/cancel")

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "cancelled"
    assert db_state() == before


def test_cancel_needs_staff(api, user_api, session):
    assert_problem(api.post(f"/api/v1/sessions/{session.id}/cancel"), 401, "not_authenticated")
    assert_problem(user_api.post(f"/api/v1/sessions/{session.id}/cancel"), 403, "permission_denied")
    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED


def test_cancel_unknown_session_is_404(staff_api):
    assert_problem(staff_api.post("/api/v1/sessions/999999/cancel"), 404, "not_found")


def test_filter_by_status(api, room):
    cancelled = make_session(room=room, starts_at=local(1, 10))
    cancelled.status = Session.Status.CANCELLED
    cancelled.save()
    scheduled = make_session(room=room, starts_at=local(1, 10))

    assert ids(api.get("/api/v1/sessions", {"status": "cancelled"})) == [cancelled.id]
    assert ids(api.get("/api/v1/sessions", {"status": "scheduled"})) == [scheduled.id]
