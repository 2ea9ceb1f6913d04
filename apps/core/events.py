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


# Under load one kick per interval is enough: a relay run publishes everything pending. A kick
# that comes too soon after the last one is sent once, delayed to the end of the interval, so
# the last events of a burst still go out within the interval. After a failed kick, requests
# stop trying for a while: a dead broker costs one slow call per pause, not one per request.
KICK_INTERVAL_SECONDS = 0.2
KICK_PAUSE_SECONDS = 15.0
_next_kick_at = 0.0
_deferred_kick_at = 0.0
_kicks_paused_until = 0.0


def kick_relay() -> None:
    """Ask a worker to publish now. Best effort: beat runs the relay every few seconds anyway."""
    global _next_kick_at, _deferred_kick_at, _kicks_paused_until
    from .tasks import relay_outbox_task

    now = time.monotonic()
    if now < _kicks_paused_until:
        return
    delay = 0.0
    if now < _next_kick_at:
        if _deferred_kick_at >= _next_kick_at:
            return  # a delayed kick already covers this interval
        delay = _next_kick_at - now
        _deferred_kick_at = _next_kick_at
    else:
        _next_kick_at = now + KICK_INTERVAL_SECONDS
    try:
        relay_outbox_task.apply_async(countdown=delay or None, retry=False)
    except Exception as exc:  # a dead broker must not fail the request that committed
        _kicks_paused_until = time.monotonic() + KICK_PAUSE_SECONDS
        logger.warning("could not kick the outbox relay, beat will run it: %s", exc)
