import pytest

from apps.rooms.models import Cinema
from tests.assertions import assert_problem, db_state, field_errors
from tests.factories import CinemaFactory

pytestmark = pytest.mark.django_db


def test_list_is_paginated(api):
    cinemas = CinemaFactory.create_batch(3)

    body = api.get("/api/v1/cinemas", {"page_size": 2}).json()

    assert body["count"] == 3
    assert body["previous"] is None
    assert body["next"] is not None
    assert body["results"] == [
        {"id": cinema.id, "name": cinema.name, "city": cinema.city} for cinema in cinemas[:2]
    ]
    last = api.get(body["next"]).json()
    assert last["next"] is None
    assert last["previous"] is not None
    assert [cinema["id"] for cinema in last["results"]] == [cinemas[2].id]


def test_list_filters_by_city(api):
    rio = CinemaFactory(city="Rio de Janeiro")
    CinemaFactory(city="São Paulo")

    body = api.get("/api/v1/cinemas", {"city": "Rio de Janeiro"}).json()

    assert [cinema["id"] for cinema in body["results"]] == [rio.id]


def test_retrieve(api):
    cinema = CinemaFactory(name="Cine Centro", city="Recife")

    response = api.get(f"/api/v1/cinemas/{cinema.id}")

    assert response.status_code == 200
    assert response.json() == {"id": cinema.id, "name": "Cine Centro", "city": "Recife"}


def test_retrieve_unknown_id_is_404_problem(api):
    assert_problem(api.get("/api/v1/cinemas/999999"), 404, "not_found")


def test_staff_creates_cinema(staff_api):
    response = staff_api.post("/api/v1/cinemas", {"name": "Cine Sul", "city": "Porto Alegre"})

    assert response.status_code == 201, response.content
    cinema = Cinema.objects.get()
    assert response.json() == {"id": cinema.id, "name": "Cine Sul", "city": "Porto Alegre"}


def test_anonymous_create_is_401(api):
    before = db_state()

    response = api.post("/api/v1/cinemas", {"name": "Cine Sul", "city": "Porto Alegre"})

    assert_problem(response, 401, "not_authenticated")
    assert db_state() == before


def test_non_staff_create_is_403(user_api):
    before = db_state()

    response = user_api.post("/api/v1/cinemas", {"name": "Cine Sul", "city": "Porto Alegre"})

    assert_problem(response, 403, "permission_denied")
    assert db_state() == before


def test_missing_fields(staff_api):
    before = db_state()

    body = assert_problem(staff_api.post("/api/v1/cinemas", {}), 400, "invalid")

    assert field_errors(body) == {"name": "required", "city": "required"}
    assert db_state() == before


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"name": 12, "city": ["Recife"]}, "city", "invalid"),
        ({"name": "", "city": "Recife"}, "name", "blank"),
        ({"name": "Cine", "city": None}, "city", "null"),
        ({"name": "N" * 121, "city": "Recife"}, "name", "max_length"),
    ],
)
def test_invalid_values(staff_api, payload, field, code):
    before = db_state()

    body = assert_problem(staff_api.post("/api/v1/cinemas", payload), 400, "invalid")

    assert field_errors(body) == {field: code}
    assert db_state() == before


def test_duplicate_name_in_city_is_400(staff_api):
    CinemaFactory(name="Cine Sul", city="Porto Alegre")
    before = db_state()

    response = staff_api.post("/api/v1/cinemas", {"name": "Cine Sul", "city": "Porto Alegre"})

    assert_problem(response, 400, "invalid")
    assert db_state() == before


def test_malformed_json_body(staff_api):
    before = db_state()

    response = staff_api.post("/api/v1/cinemas", data="not json", content_type="application/json")

    assert_problem(response, 400, "malformed_request")
    assert db_state() == before


def test_staff_changes_a_cinema(staff_api):
    cinema = CinemaFactory(name="Cine", city="Recife")

    response = staff_api.patch(f"/api/v1/cinemas/{cinema.id}", {"city": "Olinda"})

    assert response.status_code == 200, response.content
    assert response.json() == {"id": cinema.id, "name": "Cine", "city": "Olinda"}
    cinema.refresh_from_db()
    assert cinema.city == "Olinda"


def test_invalid_change_leaves_the_cinema_alone(staff_api):
    cinema = CinemaFactory(name="Cine", city="Recife")

    body = assert_problem(
        staff_api.patch(f"/api/v1/cinemas/{cinema.id}", {"name": ""}), 400, "invalid"
    )

    assert field_errors(body) == {"name": "blank"}
    cinema.refresh_from_db()
    assert cinema.name == "Cine"


def test_non_staff_change_is_403(user_api):
    cinema = CinemaFactory(city="Recife")

    response = user_api.patch(f"/api/v1/cinemas/{cinema.id}", {"city": "Olinda"})

    assert_problem(response, 403, "permission_denied")
    cinema.refresh_from_db()
    assert cinema.city == "Recife"


def test_change_of_unknown_cinema_is_404(staff_api):
    assert_problem(staff_api.patch("/api/v1/cinemas/999999", {"city": "X"}), 404, "not_found")
