"""allauth headless (app client): signup and login give a session token for the API."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from apps.accounts.models import User
from tests.assertions import assert_problem, db_state
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = "/_allauth/app/v1/auth/signup"
LOGIN = "/_allauth/app/v1/auth/login"
SESSION = "/_allauth/app/v1/auth/session"


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_SESSION_TOKEN=token)
    return client


def test_signup_returns_a_session_token_for_the_api(api):
    response = api.post(SIGNUP, {"email": "new@example.com", "password": PASSWORD})

    assert response.status_code == 200, response.content
    body = response.json()
    token = body["meta"]["session_token"]
    assert token
    assert body["meta"]["is_authenticated"] is True
    user = User.objects.get()
    assert user.email == "new@example.com"
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    assert body["data"]["user"]["email"] == "new@example.com"

    client = with_token(token)
    session = client.get(SESSION)
    assert session.status_code == 200
    assert session.json()["data"]["user"]["id"] == user.id
    # The token authenticates API calls: a buyer is known (403 on staff writes, not 401).
    assert_problem(
        client.post("/api/v1/cinemas", {"name": "X", "city": "Y"}), 403, "permission_denied"
    )
    assert client.get("/api/v1/movies").status_code == 200


def test_signup_mails_an_optional_verification_link(api, settings):
    response = api.post(SIGNUP, {"email": "new@example.com", "password": PASSWORD})

    assert response.status_code == 200, response.content
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]
    assert f"{settings.FRONTEND_URL}/account/verify-email/" in mail.outbox[0].body
    # Verification is optional: the new user is signed in at once.
    assert response.json()["meta"]["is_authenticated"] is True


def test_password_reset_mails_a_link(api, user, settings):
    response = api.post("/_allauth/app/v1/auth/password/request", {"email": user.email})

    assert response.status_code == 200, response.content
    assert len(mail.outbox) == 1
    assert f"{settings.FRONTEND_URL}/account/password/reset/key/" in mail.outbox[0].body


def test_signup_with_a_taken_email_is_rejected(api):
    UserFactory(email="taken@example.com")
    before = db_state()

    response = api.post(SIGNUP, {"email": "taken@example.com", "password": PASSWORD})

    assert response.status_code == 400
    assert "meta" not in response.json() or "session_token" not in response.json()["meta"]
    assert db_state() == before


def test_signup_with_a_weak_password_is_rejected(api):
    before = db_state()

    response = api.post(SIGNUP, {"email": "new@example.com", "password": "123"})

    assert response.status_code == 400
    assert db_state() == before


def test_signup_without_email_is_rejected(api):
    before = db_state()

    response = api.post(SIGNUP, {"password": PASSWORD})

    assert response.status_code == 400
    assert db_state() == before


def test_login_returns_a_session_token(api, user):
    response = api.post(LOGIN, {"email": user.email, "password": PASSWORD})

    assert response.status_code == 200, response.content
    token = response.json()["meta"]["session_token"]
    assert with_token(token).get(SESSION).json()["data"]["user"]["email"] == user.email


def test_login_with_a_wrong_password_is_rejected(api, user):
    before = db_state()

    response = api.post(LOGIN, {"email": user.email, "password": "not-the-password"})

    assert response.status_code == 400
    assert "session_token" not in response.json().get("meta", {})
    assert db_state() == before


def test_login_of_an_unknown_user_is_rejected(api):
    before = db_state()

    response = api.post(LOGIN, {"email": "ghost@example.com", "password": PASSWORD})

    assert response.status_code == 400
    assert db_state() == before


def test_two_logins_give_two_valid_tokens(api, user):
    first = api.post(LOGIN, {"email": user.email, "password": PASSWORD}).json()
    second = APIClient().post(LOGIN, {"email": user.email, "password": PASSWORD}).json()

    tokens = {first["meta"]["session_token"], second["meta"]["session_token"]}
    assert len(tokens) == 2
    for token in tokens:
        assert with_token(token).get(SESSION).status_code == 200


def test_invalid_token_is_401_authentication_failed():
    before = db_state()
    client = with_token("not-a-real-token")

    write = client.post("/api/v1/movies", {"title": "X", "duration_minutes": 90})
    read = client.get("/api/v1/movies", HTTP_ACCEPT_LANGUAGE="en")

    assert_problem(write, 401, "authentication_failed")
    assert write["WWW-Authenticate"] == "X-Session-Token"
    assert assert_problem(read, 401, "authentication_failed")["detail"] == (
        "Invalid or expired session token."
    )
    assert db_state() == before


def test_token_is_invalid_after_logout(user):
    client = with_token(
        APIClient()
        .post(LOGIN, {"email": user.email, "password": PASSWORD})
        .json()["meta"]["session_token"]
    )

    logout = client.delete(SESSION)

    assert logout.status_code == 401  # allauth: "no longer authenticated"
    assert_problem(client.get("/api/v1/movies"), 401, "authentication_failed")


def test_staff_token_can_write_the_catalogue(staff):
    token = (
        APIClient()
        .post(LOGIN, {"email": staff.email, "password": PASSWORD})
        .json()["meta"]["session_token"]
    )

    response = with_token(token).post("/api/v1/cinemas", {"name": "Cine", "city": "Recife"})

    assert response.status_code == 201, response.content
