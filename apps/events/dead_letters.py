"""Operator tools for the dead-letter queues: look, replay, drop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amqp.exceptions import AMQPError, NotFound
from kombu import Producer, Queue
from kombu.exceptions import KombuError

from .broker import dlq_name, events_connection, send_to_queue

# Headers that describe past failures; a replayed message starts with a clean slate.
_FAILURE_HEADERS = (
    "x-attempt",
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)


@dataclass(frozen=True)
class DeadLetter:
    event_id: str
    event_type: str
    reason: str
    body: Any


def _dead_queue(queue: str) -> Queue:
    return Queue(dlq_name(queue), durable=True, no_declare=True)


def _describe(message) -> DeadLetter:
    body = message.decode()
    deaths = (message.headers or {}).get("x-death") or [{}]
    return DeadLetter(
        event_id=str(body.get("id", "?")) if isinstance(body, dict) else "?",
        event_type=str(body.get("type", "?")) if isinstance(body, dict) else "?",
        reason=str(deaths[0].get("reason", "?")),
        body=body,
    )


def list_dead_letters(queue: str, *, limit: int = 100) -> list[DeadLetter]:
    """Peek at up to `limit` messages; they all stay in the dead-letter queue."""
    letters = []
    with events_connection() as connection:
        dead = _dead_queue(queue)(connection.default_channel)
        taken = []
        for _ in range(limit):
            message = dead.get(no_ack=False)
            if message is None:
                break
            taken.append(message)
            letters.append(_describe(message))
        for message in taken:
            message.requeue()
    return letters


def replay_dead_letters(queue: str, *, limit: int | None = None) -> int:
    """Move messages back to the consumer's queue for a fresh set of attempts."""
    replayed = 0
    with events_connection() as connection:
        channel = connection.default_channel
        dead = _dead_queue(queue)(channel)
        producer = Producer(channel)
        while limit is None or replayed < limit:
            message = dead.get(no_ack=False)
            if message is None:
                break
            headers = {
                k: v for k, v in (message.headers or {}).items() if k not in _FAILURE_HEADERS
            }
            send_to_queue(producer, message, queue=queue, headers=headers)
            message.ack()
            replayed += 1
    return replayed


def purge_dead_letters(queue: str) -> int:
    with events_connection() as connection:
        return _dead_queue(queue)(connection.default_channel).purge() or 0


def dead_letter_counts(queues: list[str]) -> dict[str, int] | None:
    """How many messages wait in each consumer's dead-letter queue (a queue not declared yet
    holds none), without taking any; None when the broker cannot be asked."""
    counts = {}
    try:
        with events_connection() as connection:
            for queue in queues:
                # A missing queue closes its channel: one channel per question.
                channel = connection.channel()
                try:
                    counts[queue] = channel.queue_declare(dlq_name(queue), passive=True)[1]
                except NotFound:
                    counts[queue] = 0
                finally:
                    channel.close()
    except (OSError, AMQPError, KombuError):
        return None
    return counts
