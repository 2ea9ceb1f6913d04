"""Every API error is an RFC 9457 problem: a stable code and a detail in the client's language."""

import pytest

from tests.assertions import PROBLEM, assert_problem, db_state

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "detail"),
    [
        ("en", "This field is required."),
        ("pt-BR", "Este campo é obrigatório."),
        ("en-US,en;q=0.9", "This field is required."),
        ("pt-BR,pt;q=0.9,en;q=0.5", "Este campo é obrigatório."),
    ],
)
def test_validation_detail_follows_accept_language(staff_api, language, detail):
    before = db_state()

    response = staff_api.post("/api/v1/cinemas", {"city": "Recife"}, HTTP_ACCEPT_LANGUAGE=language)

    body = assert_problem(response, 400, "invalid")
    assert body["detail"] == detail
    assert body["errors"] == [{"field": "name", "code": "required", "detail": detail}]
    assert db_state() == before


def test_portuguese_is_the_default_language(staff_api):
    body = staff_api.post("/api/v1/cinemas", {"city": "Recife"}).json()

    assert body["detail"] == "Este campo é obrigatório."


@pytest.mark.parametrize(
    ("language", "detail"),
    [
        ("en", "Authentication credentials were not provided."),
        ("pt-BR", "As credenciais de autenticação não foram fornecidas."),
    ],
)
def test_401_detail_is_translated(api, language, detail):
    before = db_state()

    response = api.post("/api/v1/cinemas", {}, HTTP_ACCEPT_LANGUAGE=language)

    assert assert_problem(response, 401, "not_authenticated")["detail"] == detail
    assert db_state() == before


@pytest.mark.parametrize(
    ("language", "detail"),
    [
        ("en", "You do not have permission to perform this action."),
        ("pt-BR", "Você não tem permissão para executar essa ação."),
    ],
)
def test_403_detail_is_translated(user_api, language, detail):
    before = db_state()

    response = user_api.post("/api/v1/cinemas", {}, HTTP_ACCEPT_LANGUAGE=language)

    assert assert_problem(response, 403, "permission_denied")["detail"] == detail
    assert db_state() == before


@pytest.mark.parametrize(
    ("language", "detail"), [("en", "Not found."), ("pt-BR", "Não encontrado.")]
)
def test_404_detail_is_translated(api, language, detail):
    response = api.get("/api/v1/sessions/999999", HTTP_ACCEPT_LANGUAGE=language)

    assert assert_problem(response, 404, "not_found")["detail"] == detail


def test_problem_document_members(api):
    response = api.get("/api/v1/rooms/424242", HTTP_ACCEPT_LANGUAGE="en")

    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "code": "not_found",
        "detail": "Not found.",
        "instance": "/api/v1/rooms/424242",
    }


@pytest.mark.parametrize(
    "path",
    ["/api/", "/api/nothing-here", "/api/v1/", "/api/v1/screenings", "/api/v2/movies"],
)
def test_unknown_path_under_api_is_a_json_404(api, path):
    response = api.get(path, HTTP_ACCEPT_LANGUAGE="en")

    body = assert_problem(response, 404, "not_found")
    assert body["instance"] == path


def test_unknown_path_outside_api_is_not_rewritten(api):
    response = api.get("/definitely-not-here")

    assert response.status_code == 404
    assert response["Content-Type"] != PROBLEM


def test_malformed_json_is_malformed_request(staff_api):
    before = db_state()

    response = staff_api.post(
        "/api/v1/movies",
        data="{not json",
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    body = assert_problem(response, 400, "malformed_request")
    assert body["detail"].startswith("JSON parse error")
    assert db_state() == before


def test_unsupported_media_type(staff_api):
    before = db_state()

    response = staff_api.post("/api/v1/cinemas", data="name=X", content_type="text/plain")

    assert_problem(response, 415, "unsupported_media_type")
    assert db_state() == before


def test_method_not_allowed(staff_api, session):
    before = db_state()

    response = staff_api.delete(f"/api/v1/sessions/{session.id}")

    assert_problem(response, 405, "method_not_allowed")
    assert db_state() == before


@pytest.mark.parametrize(
    "path", ["/_allauth/app/v1/auth/login", "/_allauth/app/v1/auth/signup"], ids=["login", "signup"]
)
@pytest.mark.parametrize("body", ["{", "[1, 2]", '"text"'], ids=["broken", "list", "string"])
def test_a_malformed_body_to_the_auth_endpoints_is_problem_json(api, path, body):
    response = api.post(path, body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "malformed_request"
