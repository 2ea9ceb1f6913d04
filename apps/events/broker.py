"""RabbitMQ topology for domain events, declared by code.

cinema.events (topic)  --routing key = event type-->  <queue>
<queue> --(rejected after the last retry)--> cinema.dlx --> <queue>.dlq
<queue> --(failed, retry n)--> <queue>.retry (message TTL = backoff) --> back to <queue>
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from kombu import Connection, Exchange, Producer, Queue, binding
from kombu.message import Message

EXCHANGE = settings.EVENTS_EXCHANGE  # "cinema.events" (the contract) outside tests

events_exchange = Exchange(EXCHANGE, type="topic", durable=True)
dead_letter_exchange = Exchange("cinema.dlx", type="direct", durable=True)


def events_connection(url: str | None = None, *, confirm_each: bool = True) -> Connection:
    """A connection whose publish() returns once RabbitMQ has the message (publisher confirms);
    with `confirm_each=False` the caller confirms batches itself (confirmed_publisher.py)."""
    return Connection(
        url or settings.EVENTS_BROKER_URL,
        connect_timeout=settings.EVENTS_BROKER_TIMEOUT_SECONDS,
        transport_options={"confirm_publish": True} if confirm_each else {},
    )


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


def retry_name(queue: str) -> str:
    return f"{queue}.retry"


def consumer_queues(queue: str, routing_keys: Iterable[str]) -> tuple[Queue, Queue, Queue]:
    """The main, dead-letter and retry queues of one consumer."""
    main = Queue(
        queue,
        bindings=[binding(events_exchange, routing_key=key) for key in routing_keys],
        durable=True,
        queue_arguments={
            "x-dead-letter-exchange": dead_letter_exchange.name,
            "x-dead-letter-routing-key": dlq_name(queue),
        },
    )
    dead = Queue(
        dlq_name(queue), exchange=dead_letter_exchange, routing_key=dlq_name(queue), durable=True
    )
    retry = Queue(
        retry_name(queue),
        durable=True,
        queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue},
    )
    return main, dead, retry


def send_to_queue(
    producer: Producer, message: Message, *, queue: str, headers: dict[str, Any], **options: Any
) -> None:
    """Publish a received message again, unchanged, straight to `queue` (persistent), with new
    headers: how a retry and a dead-letter replay move a message."""
    producer.publish(
        message.body,
        exchange="",
        routing_key=queue,
        headers=headers,
        delivery_mode=2,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        message_id=message.properties.get("message_id"),
        type=message.properties.get("type"),
        retry=False,
        **options,
    )


def declare_consumer_queues(channel, queue: str, routing_keys: Iterable[str]) -> Queue:
    """Declare (idempotently) the exchanges and the consumer's queues with their bindings;
    returns the main queue bound to `channel`."""
    events_exchange(channel).declare()
    dead_letter_exchange(channel).declare()
    main, dead, retry = consumer_queues(queue, routing_keys)
    dead(channel).declare()
    retry(channel).declare()
    bound = main(channel)
    bound.declare()
    return bound
