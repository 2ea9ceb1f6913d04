"""Fixtures of the fault tests: services the test owns and may break (a private Redis, a proxy in
front of the shared RabbitMQ, a private RabbitMQ node), never the shared services themselves."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
from tests.faults.rabbitmq_node import RabbitMQNode
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


@contextmanager
def broker_at(settings, url: str) -> Iterator[None]:
    """Point the relay (EVENTS_BROKER_URL), child processes (CELERY_BROKER_URL, through
    process_env) and this process's Celery app at the broker at `url`, then back."""
    from cinema.celery import app

    live_celery_url = app.conf.broker_url
    settings.EVENTS_BROKER_URL = url
    settings.CELERY_BROKER_URL = url
    app.conf.broker_url = url
    reset_celery_pools(app)
    try:
        yield
    finally:
        app.conf.broker_url = live_celery_url
        reset_celery_pools(app)


@pytest.fixture
def broker_proxy(settings) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the shared RabbitMQ; the app goes through it (`broker_at`).
    `proxy.stop()` = broker down for the app."""
    proxy = TcpProxy(RABBITMQ_PORT).start()
    try:
        with broker_at(settings, f"amqp://guest:guest@127.0.0.1:{proxy.port}//"):
            yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def rabbitmq_node() -> Iterator[RabbitMQNode]:
    """A RabbitMQ node of this module's tests (starting one takes a few seconds), deleted with
    its data at the end."""
    node = RabbitMQNode()
    try:
        yield node.start()
    finally:
        node.remove()


@pytest.fixture
def private_rabbitmq(rabbitmq_node, settings) -> Iterator[RabbitMQNode]:
    """The module's RabbitMQ node, which the test may stop, kill and start again, with the app
    pointed at it (`broker_at`); it is up again for the next test."""
    if not rabbitmq_node.running:
        rabbitmq_node.start()
    try:
        with broker_at(settings, rabbitmq_node.url):
            yield rabbitmq_node
    finally:
        if not rabbitmq_node.running:
            rabbitmq_node.start()


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
