"""RabbitMQ topology for domain events, declared by code.

cinema.events (topic)  --routing key = event type-->  <queue>
<queue> --(rejected after the last retry)--> cinema.dlx --> <queue>.dlq
<queue> --(failed, retry n)--> <queue>.retry (message TTL = backoff) --> back to <queue>

The three queues are classic queues, or quorum queues with `EVENTS_QUORUM_QUEUES` (a cluster).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from amqp.exceptions import PreconditionFailed
from django.conf import settings
from kombu import Connection, Exchange, Producer, Queue, binding
from kombu.message import Message

logger = structlog.get_logger(__name__)

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


# Quorum queues keep what the classic ones did here: durable, never exclusive nor auto-deleted, no
# priorities, per-message TTL on the retry queue (quorum queues have it since RabbitMQ 3.10, and,
# like classic ones, expire messages only at the head of the queue). What they add:
#
# Dead letters move "at-least-once": the source queue keeps a message until its target has it,
# where the default (at-most-once) sends it and forgets it. Both of our dead-letter routes carry
# events: a retry coming back from <queue>.retry, a failure going to <queue>.dlq; with a target
# briefly without a leader (a node restarting, a partition) the default would drop the event.
# RabbitMQ accepts this strategy only with the reject-publish overflow; no queue here has a length
# limit, so nothing is ever rejected for it (a limit set by policy would push back on the relay,
# whose rows would wait, rather than drop the oldest events).
_QUORUM = {"x-queue-type": "quorum"}
_AT_LEAST_ONCE = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
# A poison-message guard on the main queue: a message whose deliveries keep ending unsettled (the
# worker dies holding it, so it comes back, takes the next worker down, and so on) goes to the
# dead-letter queue after this many, with reason `delivery_limit`. A failure that raises never
# counts: the runner moves it to the retry queue as a new message. 20 is RabbitMQ 4's own default,
# set here so that 3.x behaves alike.
DELIVERY_LIMIT = 20
# The dead-letter queue has no dead-letter exchange of its own, so a message over its limit would be
# dropped, and `dlq list` takes messages and puts them back, a delivery each time: RabbitMQ 4's
# default of 20 would lose a dead letter on its 21st listing. "No limit" (-1) exists only since
# 4.0, and 3.x reads it as a limit already passed (it drops at the first return): hence a limit
# no operator will ever reach, the same on both.
DEAD_LETTER_DELIVERY_LIMIT = 2**31 - 1


def queue_type() -> str:
    return "quorum" if settings.EVENTS_QUORUM_QUEUES else "classic"


def consumer_queues(queue: str, routing_keys: Iterable[str]) -> tuple[Queue, Queue, Queue]:
    """The main, dead-letter and retry queues of one consumer."""
    quorum = settings.EVENTS_QUORUM_QUEUES
    main = Queue(
        queue,
        bindings=[binding(events_exchange, routing_key=key) for key in routing_keys],
        durable=True,
        queue_arguments={
            "x-dead-letter-exchange": dead_letter_exchange.name,
            "x-dead-letter-routing-key": dlq_name(queue),
            **({**_QUORUM, **_AT_LEAST_ONCE, "x-delivery-limit": DELIVERY_LIMIT} if quorum else {}),
        },
    )
    dead = Queue(
        dlq_name(queue),
        exchange=dead_letter_exchange,
        routing_key=dlq_name(queue),
        durable=True,
        queue_arguments=(
            {**_QUORUM, "x-delivery-limit": DEAD_LETTER_DELIVERY_LIMIT} if quorum else None
        ),
    )
    retry = Queue(
        retry_name(queue),
        durable=True,
        queue_arguments={
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue,
            **({**_QUORUM, **_AT_LEAST_ONCE} if quorum else {}),
        },
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


class QueueMismatch(RuntimeError):
    """A consumer queue exists with other arguments than ours (another type, most likely): RabbitMQ
    refuses the declaration, and the consumer cannot run until an operator migrates the queue."""


def declare_consumer_queues(channel, queue: str, routing_keys: Iterable[str]) -> Queue:
    """Declare (idempotently) the exchanges and the consumer's queues with their bindings;
    returns the main queue bound to `channel`. Raises QueueMismatch if a queue exists already
    with other arguments."""
    events_exchange(channel).declare()
    dead_letter_exchange(channel).declare()
    main, dead, retry = consumer_queues(queue, routing_keys)
    _declare(dead(channel))
    _declare(retry(channel))
    bound = main(channel)
    _declare(bound)
    return bound


def _declare(queue: Queue) -> None:
    try:
        queue.declare()
    except PreconditionFailed as exc:
        wanted = queue_type()
        logger.error("event_queue_mismatch", queue=queue.name, wanted=wanted, error=exc.reply_text)
        raise QueueMismatch(
            f"RabbitMQ refused to declare the event queue {queue.name!r} as a {wanted} queue "
            f"(EVENTS_QUORUM_QUEUES={settings.EVENTS_QUORUM_QUEUES}): {exc.reply_text}. A queue "
            "keeps the type and arguments it was created with; migrate it as docs/operations.md "
            "says (drain and delete it, or move to new queue names with EVENT_QUEUE_PREFIX)."
        ) from exc
