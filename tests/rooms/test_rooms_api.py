import pytest

from apps.rooms.models import Room
from tests.assertions import assert_problem, db_state, field_errors
from tests.factories import CinemaFactory, make_room

pytestmark = pytest.mark.django_db


@pytest.fixture
def cinema():
    return CinemaFactory()


def test_list_is_paginated_with_seat_counts(api):
    small = make_room(rows=2, seats_per_row=3)
    big = make_room(rows=4, seats_per_row=5)
    make_room()

    body = api.get("/api/v1/rooms", {"page_size": 2}).json()

    assert body["count"] == 3
    assert body["previous"] is None
    assert body["next"] is not None
    assert body["results"] == [
        {
            "id": room.id,
            "name": room.name,
            "cinema": {"id": room.cinema.id, "name": room.cinema.name, "city": room.cinema.city},
            "seat_count": seats,
        }
        for room, seats in ((small, 6), (big, 20))
    ]


def test_list_filters_by_cinema(api, cinema):
    mine = make_room(cinema=cinema)
    make_room()

    body = api.get("/api/v1/rooms", {"cinema": cinema.id}).json()

    assert [room["id"] for room in body["results"]] == [mine.id]


def test_retrieve_has_seat_layout(api):
    room = make_room(rows=2, seats_per_row=2)

    response = api.get(f"/api/v1/rooms/{room.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["seat_count"] == 4
    assert [(s["label"], s["row"], s["number"]) for s in body["seats"]] == [
        ("A1", "A", 1),
        ("A2", "A", 2),
        ("B1", "B", 1),
        ("B2", "B", 2),
    ]
    assert {seat["id"] for seat in body["seats"]} == set(room.seats.values_list("id", flat=True))


def test_retrieve_unknown_id_is_404_problem(api):
    assert_problem(api.get("/api/v1/rooms/999999"), 404, "not_found")


def test_create_with_grid_makes_seats_a1_onwards(staff_api, cinema):
    response = staff_api.post(
        "/api/v1/rooms", {"cinema": cinema.id, "name": "Sala 1", "rows": 3, "seats_per_row": 4}
    )

    assert response.status_code == 201, response.content
    room = Room.objects.get()
    body = response.json()
    assert body["id"] == room.id
    assert body["cinema"]["id"] == cinema.id
    assert body["seat_count"] == 12
    expected = [f"{row}{number}" for row in "ABC" for number in range(1, 5)]
    assert [seat["label"] for seat in body["seats"]] == expected
    assert list(room.seats.order_by("row", "number").values_list("label", flat=True)) == expected


def test_create_with_26_rows_ends_at_z(staff_api, cinema):
    response = staff_api.post(
        "/api/v1/rooms", {"cinema": cinema.id, "name": "Grande", "rows": 26, "seats_per_row": 1}
    )

    assert response.status_code == 201, response.content
    assert [seat["label"] for seat in response.json()["seats"]][-1] == "Z1"


def test_create_with_explicit_seats(staff_api, cinema):
    seats = [{"row": "B", "number": 2}, {"row": "A", "number": 1}, {"row": "AA", "number": 10}]

    response = staff_api.post("/api/v1/rooms", {"cinema": cinema.id, "name": "VIP", "seats": seats})

    assert response.status_code == 201, response.content
    room = Room.objects.get()
    assert response.json()["seat_count"] == 3
    assert set(room.seats.values_list("row", "number", "label")) == {
        ("A", 1, "A1"),
        ("B", 2, "B2"),
        ("AA", 10, "AA10"),
    }


def test_anonymous_create_is_401(api, cinema):
    before = db_state()

    response = api.post(
        "/api/v1/rooms", {"cinema": cinema.id, "name": "Sala", "rows": 4, "seats_per_row": 4}
    )

    assert_problem(response, 401, "not_authenticated")
    assert db_state() == before


def test_non_staff_create_is_403(user_api, cinema):
    before = db_state()

    response = user_api.post(
        "/api/v1/rooms", {"cinema": cinema.id, "name": "Sala", "rows": 4, "seats_per_row": 4}
    )

    assert_problem(response, 403, "permission_denied")
    assert db_state() == before


def test_missing_fields(staff_api):
    before = db_state()

    body = assert_problem(staff_api.post("/api/v1/rooms", {}), 400, "invalid")

    assert field_errors(body) == {"cinema": "required", "name": "required"}
    assert db_state() == before


def test_missing_layout(staff_api, cinema):
    before = db_state()

    response = staff_api.post("/api/v1/rooms", {"cinema": cinema.id, "name": "Sala"})

    body = assert_problem(response, 400, "invalid")
    assert field_errors(body) == {None: "no_layout"}
    assert db_state() == before


@pytest.mark.parametrize(
    ("layout", "field", "code"),
    [
        ({"rows": 27, "seats_per_row": 5}, "rows", "max_value"),
        ({"rows": 0, "seats_per_row": 5}, "rows", "min_value"),
        ({"rows": -1, "seats_per_row": 5}, "rows", "min_value"),
        ({"rows": 4, "seats_per_row": 0}, "seats_per_row", "min_value"),
        ({"rows": 4, "seats_per_row": 61}, "seats_per_row", "max_value"),
        ({"rows": "four", "seats_per_row": 5}, "rows", "invalid"),
        ({"rows": 4}, None, "incomplete_layout"),
        (
            {"rows": 4, "seats_per_row": 5, "seats": [{"row": "A", "number": 1}]},
            None,
            "ambiguous_layout",
        ),
        ({"seats": [{"row": "a", "number": 1}]}, "seats.0.row", "invalid"),
        ({"seats": [{"row": "A", "number": 0}]}, "seats.0.number", "min_value"),
        ({"seats": [{"row": "A"}]}, "seats.0.number", "required"),
        ({"seats": "A1,A2"}, "seats", "not_a_list"),
        ({"seats": []}, "seats", "no_seats"),
    ],
)
def test_invalid_layout(staff_api, cinema, layout, field, code):
    before = db_state()

    response = staff_api.post("/api/v1/rooms", {"cinema": cinema.id, "name": "Sala", **layout})

    body = assert_problem(response, 400, "invalid" if code != "no_seats" else "no_seats")
    assert field_errors(body) == {field: code}
    assert db_state() == before


def test_duplicate_explicit_seats(staff_api, cinema):
    before = db_state()
    seats = [{"row": "A", "number": 1}, {"row": "A", "number": 2}, {"row": "A", "number": 1}]

    response = staff_api.post(
        "/api/v1/rooms",
        {"cinema": cinema.id, "name": "Sala", "seats": seats},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    body = assert_problem(response, 400, "duplicate_seats")
    assert body["detail"] == "Repeated seats: A1."
    assert field_errors(body) == {"seats": "duplicate_seats"}
    assert db_state() == before


def test_unknown_cinema(staff_api):
    before = db_state()

    response = staff_api.post(
        "/api/v1/rooms", {"cinema": 999999, "name": "Sala", "rows": 4, "seats_per_row": 4}
    )

    body = assert_problem(response, 400, "invalid")
    assert field_errors(body) == {"cinema": "does_not_exist"}
    assert db_state() == before


def test_duplicate_room_name_in_cinema(staff_api, cinema):
    make_room(cinema=cinema, name="Sala 1")
    before = db_state()

    response = staff_api.post(
        "/api/v1/rooms", {"cinema": cinema.id, "name": "Sala 1", "rows": 4, "seats_per_row": 4}
    )

    assert_problem(response, 400, "invalid")
    assert db_state() == before


def test_malformed_json_body(staff_api):
    before = db_state()

    response = staff_api.post("/api/v1/rooms", data="{]", content_type="application/json")

    assert_problem(response, 400, "malformed_request")
    assert db_state() == before


def test_list_query_count_does_not_grow_with_rows(api, django_assert_num_queries):
    make_room()
    with django_assert_num_queries(2):  # count + page with cinema and seat count
        assert len(api.get("/api/v1/rooms").json()["results"]) == 1

    for _ in range(9):
        make_room(rows=2, seats_per_row=2)
    with django_assert_num_queries(2):
        assert len(api.get("/api/v1/rooms").json()["results"]) == 10


def test_staff_renames_a_room_and_keeps_its_layout(staff_api):
    room = make_room(rows=2, seats_per_row=2)
    seats = set(room.seats.values_list("id", "label"))

    response = staff_api.patch(
        f"/api/v1/rooms/{room.id}", {"name": "Sala Nova", "rows": 10, "seats_per_row": 10}
    )

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Sala Nova"
    assert response.json()["seat_count"] == 4
    room.refresh_from_db()
    assert room.name == "Sala Nova"
    assert set(room.seats.values_list("id", "label")) == seats


def test_rename_without_name_is_400(staff_api):
    room = make_room()
    before = db_state()

    body = assert_problem(staff_api.patch(f"/api/v1/rooms/{room.id}", {}), 400, "invalid")

    assert field_errors(body) == {"name": "required"}
    assert db_state() == before


def test_rename_to_a_taken_name_is_400(staff_api, cinema):
    make_room(cinema=cinema, name="Sala 1")
    room = make_room(cinema=cinema, name="Sala 2")

    assert_problem(staff_api.patch(f"/api/v1/rooms/{room.id}", {"name": "Sala 1"}), 400, "invalid")

    room.refresh_from_db()
    assert room.name == "Sala 2"


def test_non_staff_rename_is_403(user_api):
    room = make_room(name="Sala 1")

    assert_problem(
        user_api.patch(f"/api/v1/rooms/{room.id}", {"name": "X"}), 403, "permission_denied"
    )
    room.refresh_from_db()
    assert room.name == "Sala 1"


def test_rename_of_unknown_room_is_404(staff_api):
    assert_problem(staff_api.patch("/api/v1/rooms/999999", {"name": "X"}), 404, "not_found")
