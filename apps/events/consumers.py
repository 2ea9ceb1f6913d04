"""Reliable event consumers: idempotent, retried with backoff, dead-lettered at the end.

A consumer subclasses `EventConsumer`, names its queue and the event types it wants, and
implements `handle()` (or `handle_batch()` to take many events per database write). The Celery
worker runs every consumer listed in `settings.EVENT_CONSUMERS` (see consumer_step.py).
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedEvent:
    id: uuid.UUID
    type: str
    occurred_at: str
    data: dict[str, Any]


class MalformedEvent(ValueError):
    """A message that can never be processed; it goes straight to the dead-letter queue."""


def parse_event(body: Any) -> ReceivedEvent:
    try:
        return ReceivedEvent(
            id=uuid.UUID(str(body["id"])),
            type=str(body["type"]),
            occurred_at=str(body["occurred_at"]),
            data=dict(body["data"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEvent(f"not an event envelope: {exc}") from exc


class EventConsumer:
    queue: ClassVar[str]
    event_types: ClassVar[tuple[str, ...]]
    # How many messages one database write may take (1 = one at a time).
    batch_size: ClassVar[int] = 1
    # With batches: the longest a message waits for its batch to fill.
    batch_interval_seconds: ClassVar[float] = 1.0

    @property
    def name(self) -> str:
        """Identity for deduplication: stable whatever the queue prefix."""
        return self.queue

    @property
    def queue_name(self) -> str:
        """The RabbitMQ queue: `EVENT_QUEUE_PREFIX` lets test runs or tenants keep their own."""
        return f"{settings.EVENT_QUEUE_PREFIX}{self.queue}"

    def handle(self, event: ReceivedEvent) -> None:
        raise NotImplementedError

    def handle_batch(self, events: list[ReceivedEvent]) -> None:
        for event in events:
            self.handle(event)


def _claim(consumer: str, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Record the events as processed by `consumer`; returns the ones not processed before."""
    if not event_ids:
        return set()
    # By the registry: the worker imports this module (through its steps) before apps load.
    table = apps.get_model("events", "ProcessedEvent")._meta.db_table
    sql = _CLAIM_SQL.format(table=table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [consumer, [str(event_id) for event_id in event_ids]])
        return {row[0] for row in cursor.fetchall()}


_CLAIM_SQL = """
INSERT INTO {table} (consumer, event_id, processed_at)
SELECT %s, id, now() FROM unnest(%s::uuid[]) AS id
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING event_id
"""


def process_events(consumer: EventConsumer, events: list[ReceivedEvent]) -> int:
    """Apply the events not seen before, in one transaction with the record that they were.
    Returns how many were new. Raises if the consumer fails (nothing is recorded then)."""
    unique = list({event.id: event for event in events}.values())
    with transaction.atomic():
        fresh_ids = _claim(consumer.name, [event.id for event in unique])
        fresh = [event for event in unique if event.id in fresh_ids]
        if fresh:
            consumer.handle_batch(fresh)
    return len(fresh)


def retry_delay(attempt: int) -> float:
    """Exponential backoff with equal jitter: attempt n waits between d/2 and d seconds, where
    d = base * 2^(n-1), capped. Delays grow with each attempt; jitter spreads retries apart."""
    ceiling = min(
        settings.EVENT_RETRY_MAX_SECONDS, settings.EVENT_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def load_consumers() -> list[EventConsumer]:
    return [import_string(path)() for path in settings.EVENT_CONSUMERS]
