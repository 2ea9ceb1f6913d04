import hashlib
import re
import time

import pytest

from apps.bookings import services as booking_services
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
    assert all(
        set(seat) == {"id", "label", "row", "number", "category", "status"} for seat in seats
    )
    assert {seat["category"] for seat in seats} == {"standard"}
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


def test_a_poller_with_the_current_etag_gets_an_empty_304(api, session):
    url = f"/api/v1/sessions/{session.id}/seats"
    first = api.get(url)
    etag = first["ETag"]
    assert first.status_code == 200
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # a strong ETag of the body
    assert "no-cache" in first["Cache-Control"]  # kept, but asked again before each use

    again = api.get(url, HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    cached = api.get(url, HTTP_IF_NONE_MATCH='"something-else"')
    assert cached.status_code == 200
    # Hashed once when the map is built, and still the hash of the body served from the cache.
    assert (
        etag
        == cached["ETag"]
        == f'"{hashlib.md5(cached.content, usedforsecurity=False).hexdigest()}"'
    )


def test_any_change_of_a_seat_gives_the_poller_the_new_map(
    api, user, session, django_capture_on_commit_callbacks
):
    url = f"/api/v1/sessions/{session.id}/seats"
    etag = api.get(url)["ETag"]
    seat = session.seats.order_by("id").values_list("id", flat=True)[0]
    with django_capture_on_commit_callbacks(execute=True):  # the map's version moves on commit
        reservation = booking_services.reservation_create(
            user=user, session_id=session.id, seat_ids=[seat]
        )

    held = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert held.status_code == 200
    assert held["ETag"] != etag
    assert {s["id"]: s["status"] for s in held.json()}[seat] == "held"

    with django_capture_on_commit_callbacks(execute=True):
        booking_services.reservation_cancel(reservation_id=reservation.id, user=user)
    freed = api.get(url, HTTP_IF_NONE_MATCH=held["ETag"])
    assert freed.status_code == 200
    # The same seats in the same states: the same ETag, whichever instance built the map.
    assert freed["ETag"] == etag


def test_a_hold_that_runs_out_changes_the_etag_without_any_write(api, user, settings):
    settings.RESERVATION_TTL_SECONDS = 1
    session = make_session()
    url = f"/api/v1/sessions/{session.id}/seats"
    seat = session.seats.order_by("id").values_list("id", flat=True)[0]
    booking_services.reservation_create(user=user, session_id=session.id, seat_ids=[seat])
    held = api.get(url)

    time.sleep(1.1)  # past the deadline; nothing has swept the hold
    after = api.get(url, HTTP_IF_NONE_MATCH=held["ETag"])

    assert after.status_code == 200
    assert {s["id"]: s["status"] for s in after.json()}[seat] == "available"
