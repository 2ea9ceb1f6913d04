"""Broker-side helpers for the event tests: queues, real workers, bounded waits.

Every test run on the RabbitMQ vhost publishes to the same `cinema.events` exchange, so a run's
consumer queues (isolated only by `EVENT_QUEUE_PREFIX`) also receive other runs' events. The
tests therefore purge their queues before a worker starts, look for their own messages by id,
and give their sessions ids far away from other databases' (see `distinct_session_ids`).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import kombu.pools
from django.conf import settings
from django.db import connection
from kombu import Producer, Queue

from apps.events.broker import declare_consumer_queues, dlq_name, events_connection, retry_name
from apps.events.consumers import EventConsumer
from apps.sessions.models import Session
from tests.processes import celery_worker

T = TypeVar("T")

WORKER_START_TIMEOUT = 40.0


def wait_until(
    predicate: Callable[[], T], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def wait_all_published(*, timeout: float = 20) -> None:
    """Until every outbox row is published: by a running worker's relay loop, or by the relay
    this runs itself (whichever takes a row first; the other skips it)."""
    from apps.events.models import OutboxEvent
    from apps.events.relay import relay_outbox

    relay_outbox()
    wait_until(
        lambda: not OutboxEvent.objects.filter(published_at__isnull=True).exists(),
        timeout=timeout,
        what="the outbox to be published",
    )


def all_queue_names(consumer: EventConsumer) -> list[str]:
    main = consumer.queue_name
    return [main, retry_name(main), dlq_name(main)]


def declare_queues(consumer: EventConsumer) -> None:
    """Declare the consumer's queues exactly as the worker does (idempotent)."""
    with events_connection() as conn:
        declare_consumer_queues(conn.default_channel, consumer.queue_name, consumer.event_types)


def purge_queues(consumer: EventConsumer) -> None:
    declare_queues(consumer)
    with events_connection() as conn:
        channel = conn.default_channel
        for name in all_queue_names(consumer):
            channel.queue_purge(name)


def delete_queues(consumer: EventConsumer) -> None:
    with events_connection() as conn:
        channel = conn.default_channel
        for name in all_queue_names(consumer):
            channel.queue_delete(name)


def queue_state(name: str) -> tuple[int, int]:
    """(messages ready, consumers) of an existing queue."""
    with events_connection() as conn:
        _, messages, consumers = conn.default_channel.queue_declare(queue=name, passive=True)
    return messages, consumers


def peek(name: str) -> list[tuple[Any, dict[str, Any]]]:
    """(decoded body, headers) of every ready message of a queue; they all stay in it."""
    found = []
    with events_connection() as conn:
        channel = conn.default_channel
        taken = []
        queue = Queue(name, no_declare=True)(channel)
        while (message := queue.get(no_ack=False)) is not None:
            taken.append(message)
            try:
                body = message.decode()
            except Exception:
                body = message.body
            found.append((body, dict(message.headers or {})))
        for message in taken:
            message.requeue()
    return found


def publish(body: Any, *, routing_key: str, to_queue: bool = False, **properties: Any) -> None:
    """Publish like the relay does: to the events exchange, or straight into one queue."""
    from apps.events.broker import events_exchange

    with events_connection() as conn:
        producer = Producer(conn.default_channel)
        producer.publish(
            body,
            exchange="" if to_queue else events_exchange,
            routing_key=routing_key,
            delivery_mode=2,
            retry=False,
            **({"serializer": "json"} | properties),
        )


def worker_task_queue() -> str:
    """A task queue of this run alone, so that our worker never runs another run's tasks (and
    theirs never runs ours); the event consumers do not depend on it."""
    return f"{settings.EVENT_QUEUE_PREFIX}events-tests"


@contextmanager
def consumer_worker(*consumers: EventConsumer, **env: str) -> Iterator[Any]:
    """A real Celery worker running `consumers` (and nothing else), started on clean queues and
    yielded once it consumes every one of them. The queues are deleted when it has stopped, so
    that they do not collect other runs' events until the next run."""
    for consumer in consumers:
        purge_queues(consumer)
    try:
        with _worker(consumers, env) as process:
            yield process
    finally:
        for consumer in consumers:
            delete_queues(consumer)
        with events_connection() as conn:
            conn.default_channel.queue_delete(worker_task_queue())
            conn.default_channel.exchange_delete(worker_task_queue())


@contextmanager
def _worker(consumers: tuple[EventConsumer, ...], env: dict[str, str]) -> Iterator[Any]:
    paths = ",".join(f"{type(c).__module__}.{type(c).__qualname__}" for c in consumers)
    with celery_worker(
        queues=worker_task_queue(),
        EVENT_CONSUMERS=paths,
        EVENT_QUEUE_PREFIX=settings.EVENT_QUEUE_PREFIX,
        # A node name of its own (click reads CELERY_WORKER_HOSTNAME for `--hostname`): two
        # workers called celery@<host> on one vhost fight over the same exclusive pidbox queue.
        CELERY_WORKER_HOSTNAME=f"{settings.EVENT_QUEUE_PREFIX}events-{uuid.uuid4().hex[:8]}@%h",
        **env,
    ) as process:

        def consuming() -> bool:
            assert process.poll() is None, "the worker exited at start-up"
            return all(queue_state(c.queue_name)[1] >= 1 for c in consumers)

        wait_until(consuming, timeout=WORKER_START_TIMEOUT, interval=0.2, what="the consumers")
        yield process
        assert process.poll() is None, "the worker died during the test"


def distinct_session_ids() -> None:
    """Move the session id sequence of this test database to a random far-away range, so that
    events of other runs' sessions (which reach our queues through the shared exchange) cannot
    name one of ours."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
            [Session._meta.db_table, random.randrange(10**12, 2 * 10**12)],
        )


@contextmanager
def events_listener(broker_url: str) -> Iterator[Callable[[], list]]:
    """A private queue bound to every event of the events exchange; yields a function that
    drains it and returns the messages this test's outbox wrote (other runs may publish to the
    same exchange)."""
    from kombu import Connection

    from apps.events.broker import events_exchange
    from apps.events.models import OutboxEvent

    with Connection(broker_url) as broker:
        channel = broker.channel()
        events_exchange(channel).declare()
        queue = Queue(
            f"test.listener.{uuid.uuid4().hex}", exchange=events_exchange, routing_key="#"
        )
        queue = queue(channel)
        queue.declare()

        def drain() -> list:
            ours = {str(pk) for pk in OutboxEvent.objects.values_list("event_id", flat=True)}
            messages = []
            while (message := queue.get(no_ack=True)) is not None:
                if message.payload["id"] in ours:
                    messages.append(message)
            return messages

        try:
            yield drain
        finally:
            queue.delete()


def reset_celery_pools(app) -> None:
    """Drop the Celery app's broker connections after its broker URL changed. kombu also keeps
    producer pools per connection in a registry of its own: left there, the pool of the URL a
    test restores would be the closed one, and every later publish would fail."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    kombu.pools.reset()
