"""A failing event is logged and counted when it is retried and when it is dead-lettered: the
worker's consumer runner, run in this process on real RabbitMQ queues."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.conf import settings
from kombu import Producer, Queue

from apps.bookings import event_types as booking_events
from apps.events import metrics
from apps.events.broker import declare_consumer_queues, dlq_name, events_connection, retry_name
from apps.events.consumer_step import ATTEMPT_HEADER, ConsumerRunner
from apps.events.consumers import EventConsumer, ReceivedEvent
from tests.events.helpers import peek, publish, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class AlwaysFails(EventConsumer):
    queue = f"test.always-fails.{uuid.uuid4().hex[:8]}"
    event_types = (booking_events.SEAT_RELEASED,)

    def handle(self, event: ReceivedEvent) -> None:
        raise RuntimeError("the consumer's dependency is down")


@pytest.fixture
def runner():
    consumer = AlwaysFails()
    with events_connection() as conn:
        channel = conn.channel()
        main = declare_consumer_queues(channel, consumer.queue_name, consumer.event_types)
        try:
            yield ConsumerRunner(consumer, Producer(channel)), main
        finally:
            for name in (consumer.queue_name, retry_name(consumer.queue_name)):
                Queue(name, no_declare=True)(channel).delete()
            Queue(dlq_name(consumer.queue_name), no_declare=True)(channel).delete()


def _deliver(runner: ConsumerRunner, main: Queue, **headers) -> str:
    event_id = str(uuid.uuid4())
    envelope = {
        "id": event_id,
        "type": booking_events.SEAT_RELEASED,
        "occurred_at": "x",
        "data": {},
    }
    publish(envelope, routing_key=runner.consumer.queue_name, to_queue=True, headers=headers)
    message = main.get(no_ack=False)
    runner.on_message(message.decode(), message)  # batch size 1: processed at once
    return event_id


def _logged(caplog, event: str) -> list[dict]:
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] == event]


def _count(counter, queue: str) -> float:
    return counter.labels(queue=queue)._value.get()


def test_a_failure_is_logged_counted_and_sent_to_the_retry_queue(caplog, runner):
    caplog.set_level(logging.INFO)
    runner, main = runner
    queue = runner.consumer.queue_name
    retried_before = _count(metrics.EVENTS_RETRIED, queue)

    event_id = _deliver(runner, main)

    [scheduled] = _logged(caplog, "event_retry_scheduled")
    assert (scheduled["event_id"], scheduled["attempt"]) == (event_id, 1)
    assert scheduled["delay_seconds"] > 0
    assert _count(metrics.EVENTS_RETRIED, queue) == retried_before + 1
    [(body, headers)] = peek(retry_name(queue))
    assert (body["id"], headers[ATTEMPT_HEADER]) == (event_id, 1)


def test_after_the_last_retry_it_is_logged_counted_and_dead_lettered(caplog, runner):
    caplog.set_level(logging.INFO)
    runner, main = runner
    queue = runner.consumer.queue_name
    dead_before = _count(metrics.EVENTS_DEAD_LETTERED, queue)

    event_id = _deliver(runner, main, **{ATTEMPT_HEADER: settings.EVENT_MAX_RETRIES})

    [dead] = _logged(caplog, "event_dead_lettered")
    assert (dead["event_id"], dead["attempts"]) == (event_id, settings.EVENT_MAX_RETRIES + 1)
    assert _count(metrics.EVENTS_DEAD_LETTERED, queue) == dead_before + 1
    # RabbitMQ moves the rejected message to the dead-letter queue on its own time.
    wait_until(lambda: peek(dlq_name(queue)), timeout=5, what="the dead letter")
    assert [body["id"] for body, _ in peek(dlq_name(queue))] == [event_id]
    assert peek(retry_name(queue)) == []
