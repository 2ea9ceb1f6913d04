"""Batched publisher confirms against the real RabbitMQ: a batch counts as out only when the
broker confirmed all of it, and the relay leaves the rows of a refused batch pending."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import transaction
from kombu import Queue

from apps.bookings import event_types as booking_events
from apps.events import outbox
from apps.events.broker import events_connection, events_exchange
from apps.events.confirmed_publisher import ConfirmedPublisher, PublishNotConfirmed
from apps.events.models import OutboxEvent
from apps.events.relay import relay_outbox

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def private_queue(*, refuse_all: bool = False, routing_key: str | None = None) -> Iterator[str]:
    """A queue of this test; `refuse_all` makes RabbitMQ nack whatever is routed to it (a
    queue of length 0 that rejects publishes when full); with `routing_key` it is bound to the
    events exchange."""
    name = f"test.confirms.{uuid.uuid4().hex}"
    arguments = {"x-max-length": 0, "x-overflow": "reject-publish"} if refuse_all else {}
    with events_connection() as conn:
        channel = conn.channel()
        events_exchange(channel).declare()
        queue = Queue(name, queue_arguments=arguments, auto_delete=False)(channel)
        queue.declare()
        if routing_key is not None:
            queue.bind_to(exchange=events_exchange.name, routing_key=routing_key)
        try:
            yield name
        finally:
            queue.delete()


def _depth(name: str) -> int:
    with events_connection() as conn:
        return conn.default_channel.queue_declare(queue=name, passive=True)[1]


def test_a_batch_returns_once_every_message_is_confirmed():
    with private_queue() as name, events_connection(confirm_each=False) as broker:
        publisher = ConfirmedPublisher(broker)
        for index in range(50):
            publisher.publish({"n": index}, exchange="", routing_key=name, delivery_mode=2)
        publisher.wait_for_confirms(timeout=10)
        # Confirmed means the broker has them: all 50 sit in the queue.
        assert _depth(name) == 50
        # The channel goes on numbering its messages: a second batch confirms as well.
        for index in range(5):
            publisher.publish({"n": index}, exchange="", routing_key=name, delivery_mode=2)
        publisher.wait_for_confirms(timeout=10)
        assert _depth(name) == 55


def test_a_refused_message_fails_the_batch():
    with (
        private_queue() as accepting,
        private_queue(refuse_all=True) as refusing,
        events_connection(confirm_each=False) as broker,
    ):
        publisher = ConfirmedPublisher(broker)
        publisher.publish({"n": 1}, exchange="", routing_key=accepting)
        publisher.publish({"n": 2}, exchange="", routing_key=refusing)
        publisher.publish({"n": 3}, exchange="", routing_key=accepting)

        with pytest.raises(PublishNotConfirmed, match="nack"):
            publisher.wait_for_confirms(timeout=10)


def test_the_relay_leaves_a_refused_batch_pending_and_publishes_it_later():
    with transaction.atomic():
        outbox.emit(
            *(
                outbox.Event(booking_events.SEAT_RELEASED, {"session_id": 1, "seat_id": i})
                for i in range(3)
            )
        )

    with private_queue(refuse_all=True, routing_key="seat.released"):
        with pytest.raises(PublishNotConfirmed):
            relay_outbox()
        assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 3

    assert relay_outbox() == 3
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
