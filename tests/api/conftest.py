import pytest
from rest_framework.test import APIClient


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    """The published OpenAPI description, as `GET /api/schema/?format=json` gives it."""
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()
