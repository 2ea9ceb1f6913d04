"""Liveness and readiness probes against the real PostgreSQL, Redis and RabbitMQ."""

import pytest

from tests.assertions import PROBLEM

DEAD_REDIS = "redis://127.0.0.1:6399/0"
DEAD_BROKER = "amqp://guest:guest@127.0.0.1:5699//"


def test_liveness(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_every_dependency_answers(client):
    response = client.get("/health/ready")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "rabbitmq": "ok"},
    }


@pytest.mark.django_db
def test_not_ready_without_redis(client, settings):
    settings.REDIS_URL = DEAD_REDIS

    response = client.get("/health/ready", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "dependency_unavailable"
    assert body["status"] == 503
    assert "redis" in body["detail"]
    assert "rabbitmq" not in body["detail"]
    assert body["checks"] == {"database": "ok", "redis": "down", "rabbitmq": "ok"}


@pytest.mark.django_db
def test_not_ready_without_the_broker(client, settings):
    settings.CELERY_BROKER_URL = DEAD_BROKER

    response = client.get("/health/ready", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "dependency_unavailable"
    assert "rabbitmq" in body["detail"]
    assert "redis" not in body["detail"]
    assert body["checks"] == {"database": "ok", "redis": "ok", "rabbitmq": "down"}


@pytest.mark.django_db
def test_not_ready_names_every_dead_dependency(client, settings):
    settings.REDIS_URL = DEAD_REDIS
    settings.CELERY_BROKER_URL = DEAD_BROKER

    response = client.get("/health/ready", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 503
    body = response.json()
    assert "rabbitmq, redis" in body["detail"]
    assert body["checks"] == {"database": "ok", "redis": "down", "rabbitmq": "down"}


def test_probes_only_answer_get(client):
    assert client.post("/health").status_code == 405
