"""The outbox relay: publish unpublished events to RabbitMQ, in order, and mark them published.

Several relays may run at once (the on-commit kick, beat, more workers): each takes a batch with
`SKIP LOCKED`, so no row is published twice by two relays. A row is marked published only after
RabbitMQ confirmed it; if the broker is down the transaction rolls back and the rows wait.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu import Producer

from . import metrics
from .broker import events_connection, events_exchange
from .events import envelope
from .models import OutboxEvent

logger = structlog.get_logger(__name__)


def outbox_lag_seconds(now: datetime | None = None) -> float:
    """Age of the oldest unpublished event (0 when the outbox is empty)."""
    oldest = (
        OutboxEvent.objects.filter(published_at__isnull=True)
        .order_by("seq")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if oldest is None:
        return 0.0
    return max(0.0, ((now or timezone.now()) - oldest).total_seconds())


def _publish_batch(producer: Producer, batch_size: int) -> int:
    with transaction.atomic():
        batch = list(
            OutboxEvent.objects.filter(published_at__isnull=True)
            .order_by("seq")
            .select_for_update(skip_locked=True)[:batch_size]
        )
        for event in batch:
            producer.publish(
                envelope(event),
                exchange=events_exchange,
                routing_key=event.type,
                serializer="json",
                delivery_mode=2,  # persistent
                message_id=str(event.event_id),
                type=event.type,
                headers={"x-request-id": event.request_id} if event.request_id else None,
                retry=False,
            )
        OutboxEvent.objects.filter(seq__in=[event.seq for event in batch]).update(
            published_at=timezone.now()
        )
    return len(batch)


def relay_outbox(*, batch_size: int | None = None) -> int:
    """Publish everything pending; returns how many events went out. Raises if the broker is
    unreachable (the rows stay pending for the next run)."""
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    published = 0
    try:
        with events_connection() as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.channel()
            events_exchange(channel).declare()
            producer = Producer(channel)
            while True:
                count = _publish_batch(producer, batch_size)
                published += count
                if count < batch_size:
                    break
    finally:
        lag = outbox_lag_seconds()
        metrics.EVENTS_PUBLISHED.inc(published)
        metrics.OUTBOX_LAG.set(lag)
        log = logger.info if published else logger.debug
        log("outbox_relayed", published=published, outbox_lag_seconds=lag)
    return published


def prune_outbox(*, older_than: timedelta | None = None) -> int:
    """Delete published events past their retention; returns how many went."""
    cutoff = timezone.now() - (older_than or settings.OUTBOX_RETENTION)
    deleted, _ = OutboxEvent.objects.filter(published_at__lt=cutoff).delete()
    return deleted
