import pytest

from apps.catalog.models import Movie
from tests.assertions import assert_problem, db_state, field_errors
from tests.factories import MovieFactory

pytestmark = pytest.mark.django_db

MOVIE_FIELDS = {
    "id",
    "title",
    "synopsis",
    "duration_minutes",
    "title_pt_br",
    "title_en",
    "synopsis_pt_br",
    "synopsis_en",
}


def test_list_is_paginated(api):
    movies = MovieFactory.create_batch(3)

    first = api.get("/api/v1/movies", {"page_size": 2})

    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert body["previous"] is None
    assert body["next"].endswith("/api/v1/movies?page=2&page_size=2")
    assert [movie["id"] for movie in body["results"]] == [movies[0].id, movies[1].id]
    assert set(body["results"][0]) == MOVIE_FIELDS

    second = api.get(body["next"]).json()
    assert second["count"] == 3
    assert second["next"] is None
    assert second["previous"] is not None
    assert [movie["id"] for movie in second["results"]] == [movies[2].id]


def test_empty_list(api):
    assert api.get("/api/v1/movies").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_retrieve(api):
    movie = MovieFactory(title_pt_br="Cidade", title_en="City", duration_minutes=95)

    response = api.get(f"/api/v1/movies/{movie.id}", HTTP_ACCEPT_LANGUAGE="pt-BR")

    assert response.status_code == 200
    assert response.json() == {
        "id": movie.id,
        "title": "Cidade",
        "synopsis": "Uma história.",
        "duration_minutes": 95,
        "title_pt_br": "Cidade",
        "title_en": "City",
        "synopsis_pt_br": "Uma história.",
        "synopsis_en": "A story.",
    }


def test_retrieve_unknown_id_is_404_problem(api):
    response = api.get("/api/v1/movies/999999", HTTP_ACCEPT_LANGUAGE="en")

    body = assert_problem(response, 404, "not_found")
    assert body["detail"] == "Not found."
    assert body["instance"] == "/api/v1/movies/999999"


def test_retrieve_non_numeric_id_is_404_problem(api):
    assert_problem(api.get("/api/v1/movies/abc"), 404, "not_found")


def test_staff_creates_movie(staff_api):
    response = staff_api.post(
        "/api/v1/movies",
        {"title": "Filme X", "duration_minutes": 120, "synopsis": "Sinopse."},
        HTTP_ACCEPT_LANGUAGE="pt-BR",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    movie = Movie.objects.get()
    assert body["id"] == movie.id
    assert movie.title_pt_br == "Filme X"
    assert movie.synopsis_pt_br == "Sinopse."
    assert movie.duration_minutes == 120


def test_staff_creates_movie_with_translations(staff_api):
    response = staff_api.post(
        "/api/v1/movies",
        {"title": "Filme X", "duration_minutes": 120, "title_en": "Movie X"},
        HTTP_ACCEPT_LANGUAGE="pt-BR",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title_pt_br"] == "Filme X"
    assert body["title_en"] == "Movie X"
    english = staff_api.get(f"/api/v1/movies/{body['id']}", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["title"] == "Movie X"


def test_missing_title_is_problem_in_language(staff_api):
    response = staff_api.post("/api/v1/movies", {"duration_minutes": 90}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"] == [
        {"field": "title", "code": "required", "detail": "This field is required."}
    ]
    pt = staff_api.post("/api/v1/movies", {"duration_minutes": 90}, HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert pt.json()["errors"][0]["detail"] == "Este campo é obrigatório."
    assert Movie.objects.count() == 0


def test_anonymous_write_is_401_and_user_write_is_403(api, user_api):
    assert api.post("/api/v1/movies", {"title": "X", "duration_minutes": 90}).status_code == 401
    assert (
        user_api.post("/api/v1/movies", {"title": "X", "duration_minutes": 90}).status_code == 403
    )
    assert Movie.objects.count() == 0


def test_anonymous_create_is_401_problem(api):
    before = db_state()

    response = api.post("/api/v1/movies", {"title": "X", "duration_minutes": 90})

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "X-Session-Token"
    assert db_state() == before


def test_non_staff_create_is_403_problem(user_api):
    before = db_state()

    response = user_api.post("/api/v1/movies", {"title": "X", "duration_minutes": 90})

    assert_problem(response, 403, "permission_denied")
    assert db_state() == before


def test_missing_fields(staff_api):
    before = db_state()

    response = staff_api.post("/api/v1/movies", {}, HTTP_ACCEPT_LANGUAGE="en")

    body = assert_problem(response, 400, "invalid")
    assert field_errors(body) == {"title": "required", "duration_minutes": "required"}
    assert body["detail"] == "The request contains invalid data."
    assert db_state() == before


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"title": "X", "duration_minutes": "long"}, "duration_minutes", "invalid"),
        ({"title": "X", "duration_minutes": 0}, "duration_minutes", "min_value"),
        ({"title": "X", "duration_minutes": -10}, "duration_minutes", "min_value"),
        ({"title": "X", "duration_minutes": 601}, "duration_minutes", "max_value"),
        ({"title": ["X"], "duration_minutes": 90}, "title", "invalid"),
        ({"title": "", "duration_minutes": 90}, "title", "blank"),
        ({"title": "X" * 201, "duration_minutes": 90}, "title", "max_length"),
    ],
)
def test_invalid_values(staff_api, payload, field, code):
    before = db_state()

    response = staff_api.post("/api/v1/movies", payload)

    body = assert_problem(response, 400, "invalid")
    assert field_errors(body) == {field: code}
    assert db_state() == before


def test_malformed_json_body(staff_api):
    before = db_state()

    response = staff_api.post(
        "/api/v1/movies", data='{"title": "X", ', content_type="application/json"
    )

    assert_problem(response, 400, "malformed_request")
    assert db_state() == before


def test_list_query_count_does_not_grow_with_rows(api, django_assert_num_queries):
    MovieFactory()
    with django_assert_num_queries(2):  # count + page
        assert len(api.get("/api/v1/movies").json()["results"]) == 1

    MovieFactory.create_batch(19)
    with django_assert_num_queries(2):
        assert len(api.get("/api/v1/movies").json()["results"]) == 20


def test_staff_changes_a_movie_in_the_request_language(staff_api):
    movie = MovieFactory(title_pt_br="Antigo", title_en="Old", duration_minutes=90)

    response = staff_api.patch(
        f"/api/v1/movies/{movie.id}",
        {"title": "New", "duration_minutes": 95},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200, response.content
    movie.refresh_from_db()
    assert (movie.title_pt_br, movie.title_en, movie.duration_minutes) == ("Antigo", "New", 95)
    assert response.json()["title"] == "New"


def test_invalid_change_leaves_the_movie_alone(staff_api):
    movie = MovieFactory(duration_minutes=90)

    response = staff_api.patch(f"/api/v1/movies/{movie.id}", {"duration_minutes": 0})

    body = assert_problem(response, 400, "invalid")
    assert field_errors(body) == {"duration_minutes": "min_value"}
    movie.refresh_from_db()
    assert movie.duration_minutes == 90


def test_change_of_unknown_movie_is_404(staff_api):
    assert_problem(staff_api.patch("/api/v1/movies/999999", {"title": "X"}), 404, "not_found")


def test_non_staff_change_is_403(user_api):
    movie = MovieFactory(title_pt_br="Antigo")

    assert_problem(
        user_api.patch(f"/api/v1/movies/{movie.id}", {"title": "X"}), 403, "permission_denied"
    )
    movie.refresh_from_db()
    assert movie.title_pt_br == "Antigo"


def test_staff_deletes_a_movie_without_sessions(staff_api):
    movie = MovieFactory()

    response = staff_api.delete(f"/api/v1/movies/{movie.id}")

    assert response.status_code == 204
    assert not Movie.objects.exists()


def test_movie_with_sessions_cannot_be_deleted(staff_api, session):
    before = db_state()

    response = staff_api.delete(f"/api/v1/movies/{session.movie_id}")

    assert_problem(response, 409, "in_use")
    assert db_state() == before


def test_anonymous_delete_is_401(api):
    movie = MovieFactory()

    assert_problem(api.delete(f"/api/v1/movies/{movie.id}"), 401, "not_authenticated")
    assert Movie.objects.filter(pk=movie.pk).exists()
