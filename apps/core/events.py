"""Domain events through a transactional outbox.

Services call `emit()` inside the transaction of the change the events announce. A relay
(apps.core.relay) publishes them to RabbitMQ after commit; nothing is sent from inside a
transaction, and a broker outage only delays events.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from .models import OutboxEvent

logger = logging.getLogger(__name__)

ENVELOPE_VERSION = 1

RESERVATION_CREATED = "reservation.created"
RESERVATION_CANCELLED = "reservation.cancelled"
RESERVATION_EXPIRED = "reservation.expired"
SEAT_RELEASED = "seat.released"
PAYMENT_CONFIRMED = "payment.confirmed"
EVENT_TYPES = (
    RESERVATION_CREATED,
    RESERVATION_CANCELLED,
    RESERVATION_EXPIRED,
    SEAT_RELEASED,
    PAYMENT_CONFIRMED,
)


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]


def emit(*events: Event) -> list[OutboxEvent]:
    """Store events in the outbox, in the caller's transaction; the relay is kicked on commit."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("emit() must run inside the transaction of the change it announces")
    now = timezone.now()
    request_id = str(structlog.contextvars.get_contextvars().get("request_id", ""))[:64]
    rows = OutboxEvent.objects.bulk_create(
        OutboxEvent(type=event.type, data=event.data, occurred_at=now, request_id=request_id)
        for event in events
    )
    transaction.on_commit(kick_relay)
    return rows


def envelope(event: OutboxEvent) -> dict[str, Any]:
    """The contract's message body."""
    return {
        "id": str(event.event_id),
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "version": ENVELOPE_VERSION,
        "data": event.data,
    }


# After a failed kick, requests stop trying for a while: a dead broker costs one slow call per
# pause per process, not one per request.
KICK_PAUSE_SECONDS = 15.0
_kicks_paused_until = 0.0


def kick_relay() -> None:
    """Ask a worker to publish now. Best effort: beat runs the relay every few seconds anyway."""
    global _kicks_paused_until
    from .tasks import relay_outbox_task

    if time.monotonic() < _kicks_paused_until:
        return
    try:
        relay_outbox_task.apply_async(retry=False)
    except Exception as exc:  # a dead broker must not fail the request that committed
        _kicks_paused_until = time.monotonic() + KICK_PAUSE_SECONDS
        logger.warning("could not kick the outbox relay, beat will run it: %s", exc)
