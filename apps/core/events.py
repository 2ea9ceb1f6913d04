"""Domain events through a transactional outbox.

Services call `emit()` inside the transaction of the change the events announce. The relay
(apps.core.relay), woken by PostgreSQL when the rows commit, publishes them to RabbitMQ; nothing
is sent from a request, and a broker outage only delays events.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from .models import OutboxEvent

ENVELOPE_VERSION = 1

RESERVATION_CREATED = "reservation.created"
RESERVATION_CANCELLED = "reservation.cancelled"
RESERVATION_EXPIRED = "reservation.expired"
SEAT_RELEASED = "seat.released"
PAYMENT_CONFIRMED = "payment.confirmed"
RESERVATION_EXTENDED = "reservation.extended"
PAYMENT_PENDING = "payment.pending"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"
SESSION_CANCELLED = "session.cancelled"
EVENT_TYPES = (
    RESERVATION_CREATED,
    RESERVATION_CANCELLED,
    RESERVATION_EXPIRED,
    SEAT_RELEASED,
    PAYMENT_CONFIRMED,
    RESERVATION_EXTENDED,
    PAYMENT_PENDING,
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    SESSION_CANCELLED,
)


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]


def emit(*events: Event) -> list[OutboxEvent]:
    """Store events in the outbox, in the caller's transaction; the commit wakes the relay."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("emit() must run inside the transaction of the change it announces")
    now = timezone.now()
    request_id = str(structlog.contextvars.get_contextvars().get("request_id", ""))[:64]
    rows = [
        OutboxEvent(
            event_id=uuid.uuid4(),
            type=event.type,
            data=event.data,
            occurred_at=now,
            request_id=request_id,
        )
        for event in events
    ]
    # One plain statement: every reservation, payment and expiry writes here, and the ORM's
    # bulk_create cost more CPU than the insert itself.
    sql = _INSERT_SQL.format(table=OutboxEvent._meta.db_table, values=", ".join([_ROW] * len(rows)))
    params = [
        value
        for row in rows
        for value in (
            row.event_id,
            row.type,
            json.dumps(row.data, cls=DjangoJSONEncoder),
            row.occurred_at,
            row.request_id,
        )
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # PostgreSQL returns the rows of a multi-row VALUES in order, as bulk_create relies on.
        for row, (seq,) in zip(rows, cursor.fetchall(), strict=True):
            row.seq = seq
            row._state.adding = False
    return rows


_INSERT_SQL = (
    "INSERT INTO {table} (event_id, type, data, occurred_at, request_id) VALUES {values} "
    "RETURNING seq"
)
_ROW = "(%s, %s, %s::jsonb, %s, %s)"


def envelope(event: OutboxEvent) -> dict[str, Any]:
    """The contract's message body."""
    return {
        "id": str(event.event_id),
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "version": ENVELOPE_VERSION,
        "data": event.data,
    }
