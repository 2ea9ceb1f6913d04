"""Fixtures of the fault tests: services the test owns and may break (a private Redis, a proxy in
front of the shared RabbitMQ), never the shared services themselves."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from apps.events.broker import events_connection
from tests.conftest import point_cache_at
from tests.events.helpers import (
    delete_queues,
    events_listener,
    purge_queues,
    reset_celery_pools,
)
from tests.faults.proxy import TcpProxy
from tests.faults.redis_server import RedisServer
from tests.faults.workers import CONSUMERS

RABBITMQ_PORT = 5672


@pytest.fixture
def private_redis(settings) -> Iterator[RedisServer]:
    """A redis-server of this test alone; the app's cache and seat locks point at it (and so do
    child processes, through process_env)."""
    server = RedisServer().start()
    point_cache_at(settings, server.url(0))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker_proxy(settings) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the shared RabbitMQ; the relay (EVENTS_BROKER_URL) and this
    process's Celery app go through it. `proxy.stop()` = broker down for the app."""
    from cinema.celery import app

    proxy = TcpProxy(RABBITMQ_PORT).start()
    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
    live_celery_url = app.conf.broker_url
    settings.EVENTS_BROKER_URL = url
    settings.CELERY_BROKER_URL = url
    app.conf.broker_url = url
    reset_celery_pools(app)
    try:
        yield proxy
    finally:
        proxy.stop()
        app.conf.broker_url = live_celery_url
        reset_celery_pools(app)


@pytest.fixture
def event_listener(settings) -> Iterator[Callable[[], list]]:
    """A private queue bound to every event of cinema.events on the real broker (not through any
    proxy); yields a function that drains it and returns the messages of this test's outbox
    (other runs publish to the same exchange)."""
    with events_listener(f"amqp://guest:guest@127.0.0.1:{RABBITMQ_PORT}//") as drain:
        yield drain


@pytest.fixture
def task_queue(settings) -> Iterator[str]:
    """A Celery task queue of this test alone (for `tests.faults.workers.fault_worker`), on clean
    consumer queues; all of them are deleted afterwards (through the real broker)."""
    name = f"{settings.EVENT_QUEUE_PREFIX}faults-{uuid.uuid4().hex[:8]}"
    real = f"amqp://guest:guest@127.0.0.1:{RABBITMQ_PORT}//"
    for consumer in CONSUMERS:
        purge_queues(consumer)
    try:
        yield name
    finally:
        events_url, settings.EVENTS_BROKER_URL = settings.EVENTS_BROKER_URL, real
        try:
            for consumer in CONSUMERS:
                delete_queues(consumer)
            with events_connection(real) as conn:
                conn.default_channel.queue_delete(name)
                conn.default_channel.exchange_delete(name)
        finally:
            settings.EVENTS_BROKER_URL = events_url
