from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import PASSWORD, StaffFactory, UserFactory, make_session


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters and seat locks live in Redis; every test starts from an empty cache."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def login(client: APIClient, email: str, password: str = PASSWORD) -> str:
    """Log in through allauth's app endpoint and return the session token."""
    response = client.post(
        "/_allauth/app/v1/auth/login", {"email": email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return StaffFactory()


def client_for(user) -> APIClient:
    """An API client logged in as `user` through the real login endpoint."""
    client = APIClient()
    client.credentials(HTTP_X_SESSION_TOKEN=login(client, user.email))
    client.user = user
    return client


@pytest.fixture
def user_api(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def staff_api(staff) -> APIClient:
    return client_for(staff)


@pytest.fixture
def session(db):
    return make_session()
