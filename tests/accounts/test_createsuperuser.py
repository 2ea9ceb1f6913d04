"""`createsuperuser --noinput` with env vars makes a staff user who logs in through allauth."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.catalog.models import Movie
from tests.conftest import login

pytestmark = pytest.mark.django_db

EMAIL = "admin@cinema.example"
PASSWORD = "Adm1n-passw0rd!"


@pytest.fixture
def superuser_env(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", EMAIL)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)


def test_createsuperuser_noinput_from_env(superuser_env):
    call_command("createsuperuser", "--noinput", verbosity=0)

    user = User.objects.get()
    assert user.email == EMAIL
    assert user.is_staff
    assert user.is_superuser
    assert user.is_active
    assert user.check_password(PASSWORD)


def test_superuser_logs_in_through_allauth_and_creates_a_movie(superuser_env):
    call_command("createsuperuser", "--noinput", verbosity=0)
    client = APIClient()
    client.credentials(HTTP_X_SESSION_TOKEN=login(client, EMAIL, PASSWORD))

    response = client.post("/api/v1/movies", {"title": "Filme do Admin", "duration_minutes": 110})

    assert response.status_code == 201, response.content
    assert Movie.objects.get().title_pt_br == "Filme do Admin"


def test_superuser_login_ignores_email_case(superuser_env):
    call_command("createsuperuser", "--noinput", verbosity=0)

    assert login(APIClient(), EMAIL.upper(), PASSWORD)
