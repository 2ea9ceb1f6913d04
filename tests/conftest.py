from __future__ import annotations

import pytest
from django.core.cache import cache, caches
from rest_framework.test import APIClient

from tests.factories import (
    PASSWORD,
    BoxOfficeFactory,
    CatalogueManagerFactory,
    DoorFactory,
    StaffFactory,
    UserFactory,
    make_session,
)


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters, seat locks and cached users live in Redis, and sessions a moment old in
    each process's memory; every test starts with both empty."""
    cache.clear()
    caches["local"].clear()
    yield
    cache.clear()
    caches["local"].clear()


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
    """A staff member in every role (see tests/factories.py)."""
    return StaffFactory()


@pytest.fixture
def catalogue_manager(db):
    return CatalogueManagerFactory()


@pytest.fixture
def box_office(db):
    return BoxOfficeFactory()


@pytest.fixture
def door(db):
    return DoorFactory()


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


@pytest.fixture
def superuser_client(client, db):
    """Django's test client logged in to the admin as a superuser (pt-BR, the default)."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


DEAD_REDIS_URL = "redis://127.0.0.1:6399/0"


def point_cache_at(settings, url: str) -> None:
    """Re-point the Django cache (and so the seat-lock fast path) at another Redis URL."""
    caches = {**settings.CACHES}
    caches["default"] = {**caches["default"], "LOCATION": url}
    settings.CACHES = caches


@pytest.fixture(params=["redis", "redis-down", "redis-hung"])
def redis_mode(request, settings):
    """Run a test with the Redis fast path working, refused, and hanging (socket timeouts)."""
    from tests.concurrency import blackhole_server

    if request.param == "redis-down":
        point_cache_at(settings, DEAD_REDIS_URL)
        yield request.param
    elif request.param == "redis-hung":
        with blackhole_server() as port:
            point_cache_at(settings, f"redis://127.0.0.1:{port}/0")
            yield request.param
    else:
        yield request.param


@pytest.fixture(scope="session", autouse=True)
def _fresh_test_queues() -> None:
    """Start every run with empty test queues on the shared RabbitMQ.

    Tests that write events or queue tasks without a worker leave messages behind; across runs
    they would pile up in front of the next run's workers.
    """
    from django.conf import settings
    from kombu import Connection

    from apps.events.broker import dlq_name, retry_name
    from apps.events.consumers import load_consumers

    names = [settings.CELERY_TASK_DEFAULT_QUEUE]
    for consumer in load_consumers():
        names += [consumer.queue_name, retry_name(consumer.queue_name)]
        names.append(dlq_name(consumer.queue_name))
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=5) as connection:
        channel = connection.channel()
        for name in names:
            channel.queue_delete(name)  # deleting an absent queue is a no-op in RabbitMQ
