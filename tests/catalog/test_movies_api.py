import pytest

from apps.catalog.models import Movie

pytestmark = pytest.mark.django_db


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
