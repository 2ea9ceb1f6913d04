"""What the fuzzer found (tests/security/test_fuzz_api.py), pinned as plain regression tests."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.sessions.models import Session
from tests.assertions import assert_problem, db_state
from tests.factories import MovieFactory, make_room

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/movies", "/api/v1/cinemas", "/api/v1/rooms", "/api/v1/sessions"]


@pytest.mark.parametrize(
    "value",
    [
        "2030-01-01T00:00:00-22:59",  # Python takes offsets up to 23:59, PostgreSQL up to 15:59
        "1562-03-08T01:04:17-22:59",
        "2030-01-01T00:00:00+18:00",
    ],
)
@pytest.mark.parametrize("name", ["starts_after", "starts_before"])
def test_session_filters_take_any_utc_offset(api, session, name, value):
    response = api.get("/api/v1/sessions", {name: value})

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+22:59", "9999-12-31T23:00:00-22:00"])
def test_session_filters_out_of_range_once_in_utc_are_400(api, value):
    response = api.get("/api/v1/sessions", {"starts_after": value})

    body = assert_problem(response, 400, "invalid")
    assert body["errors"][0]["field"] == "starts_after"


def test_a_session_that_would_end_after_the_year_9999_is_refused(staff_api):
    """It used to be saved (PostgreSQL stores it), after which every list showing it was a 500."""
    movie, room = MovieFactory(duration_minutes=120), make_room()
    before = db_state()

    response = staff_api.post(
        "/api/v1/sessions",
        {"movie": movie.id, "room": room.id, "starts_at": "9999-12-31T23:00:00Z", "price": "1"},
    )

    body = assert_problem(response, 400, "session_too_late")
    assert body["errors"][0]["field"] == "starts_at"
    assert db_state() == before
    assert staff_api.get("/api/v1/sessions").status_code == 200


def test_the_admin_refuses_it_too(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    movie, room = MovieFactory(), make_room()

    response = client.post(
        reverse("admin:screenings_session_add"),
        {
            "movie": movie.id,
            "room": room.id,
            "starts_at_0": "31/12/9999",
            "starts_at_1": "23:00:00",
            "price": "10.00",
        },
    )

    assert response.status_code == 200  # the form again, with the error at its field
    errors = response.context["adminform"].form.errors.as_data()
    assert [error.code for error in errors["starts_at"]] == ["session_too_late"]
    assert not Session.objects.exists()


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("page", ["0", "999", "abc"])
def test_a_page_out_of_range_is_a_documented_404(api, path, page):
    assert_problem(api.get(path, {"page": page}), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/rooms", {"cinema": "0"}),
        ("/api/v1/sessions", {"movie": "0"}),
        ("/api/v1/sessions", {"date": "not-a-date"}),
        ("/api/v1/cinemas", {"city": "a\x00b"}),
    ],
)
def test_a_malformed_filter_is_a_documented_400(api, path, query):
    assert_problem(api.get(path, query), 400, "invalid")


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/", {"format": "json"}).json()


@pytest.mark.parametrize(
    "path", [*LISTS, "/api/v1/me/purchases", "/api/v1/users/{user_id}/purchases"]
)
def test_lists_document_their_page_404(schema, path):
    assert "404" in schema["paths"][path]["get"]["responses"]


@pytest.mark.parametrize("path", ["/api/v1/cinemas", "/api/v1/rooms", "/api/v1/sessions"])
def test_filtered_lists_document_their_400(schema, path):
    assert "400" in schema["paths"][path]["get"]["responses"]


def test_public_reads_need_no_token_and_everything_else_requires_it(schema):
    movies = schema["paths"]["/api/v1/movies"]
    assert "security" not in movies["get"]  # no padlock in Swagger UI
    assert movies["post"]["security"] == [{"SessionToken": []}]
    assert schema["paths"]["/api/v1/reservations"]["post"]["security"] == [{"SessionToken": []}]
