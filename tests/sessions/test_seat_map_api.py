import pytest

from tests.assertions import assert_problem
from tests.factories import make_room, make_session

pytestmark = pytest.mark.django_db


def test_seat_map_lists_every_seat_available(api):
    session = make_session(room=make_room(rows=4, seats_per_row=5))

    response = api.get(f"/api/v1/sessions/{session.id}/seats")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    seats = response.json()
    assert isinstance(seats, list)  # one unpaginated list
    assert len(seats) == 20
    assert all(set(seat) == {"id", "label", "row", "number", "status"} for seat in seats)
    assert {seat["status"] for seat in seats} == {"available"}
    assert [seat["label"] for seat in seats] == [f"{r}{n}" for r in "ABCD" for n in range(1, 6)]
    assert [(seat["row"], seat["number"]) for seat in seats][:6] == [
        ("A", 1),
        ("A", 2),
        ("A", 3),
        ("A", 4),
        ("A", 5),
        ("B", 1),
    ]


def test_seat_ids_are_the_session_seat_ids(api, session):
    seats = api.get(f"/api/v1/sessions/{session.id}/seats").json()

    expected = {ss.id: ss.seat.label for ss in session.seats.select_related("seat")}
    assert {seat["id"]: seat["label"] for seat in seats} == expected


def test_seat_map_is_not_paginated_beyond_page_size(api):
    session = make_session(room=make_room(rows=10, seats_per_row=12))

    seats = api.get(f"/api/v1/sessions/{session.id}/seats", {"page": 2, "page_size": 5}).json()

    assert len(seats) == 120


def test_seat_map_of_unknown_session_is_404(api):
    assert_problem(api.get("/api/v1/sessions/999999/seats"), 404, "not_found")


def test_seat_map_is_public_and_the_same_for_users(api, user_api, session):
    anonymous = api.get(f"/api/v1/sessions/{session.id}/seats")
    signed_in = user_api.get(f"/api/v1/sessions/{session.id}/seats")

    assert anonymous.status_code == signed_in.status_code == 200
    assert anonymous.json() == signed_in.json()


def test_seat_map_query_count_does_not_grow_with_the_room(
    api, django_assert_max_num_queries, django_assert_num_queries
):
    small = make_session(room=make_room(rows=4, seats_per_row=5))
    big = make_session(room=make_room(rows=20, seats_per_row=20))

    with django_assert_max_num_queries(3) as queries:  # session, live holds, seats
        assert len(api.get(f"/api/v1/sessions/{small.id}/seats").json()) == 20
    with django_assert_num_queries(len(queries)):
        assert len(api.get(f"/api/v1/sessions/{big.id}/seats").json()) == 400
