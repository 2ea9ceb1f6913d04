"""Domain events through a transactional outbox.

Services call `emit()` inside the transaction of the change the events announce. The relay
(apps.events.relay), woken by PostgreSQL when the rows commit, publishes them to RabbitMQ; nothing
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

from apps.core.db import from_row

from .models import OutboxEvent

ENVELOPE_VERSION = 1


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
        (uuid.uuid4(), event.type, event.data, now, request_id)  # the columns of _INSERT_SQL
        for event in events
    ]
    # One plain statement: every reservation, payment and expiry writes here, and the ORM's
    # bulk_create cost more CPU than the insert itself.
    table = OutboxEvent._meta.db_table
    sql = _INSERT_SQL.format(table=table, values=", ".join([_ROW] * len(rows)))
    params = [
        json.dumps(value, cls=DjangoJSONEncoder) if column == "data" else value
        for row in rows
        for column, value in zip(_COLUMNS, row, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # PostgreSQL returns the rows of a multi-row VALUES in order, as bulk_create relies on.
        seqs = [seq for (seq,) in cursor.fetchall()]
    return [
        from_row(OutboxEvent, seq=seq, published_at=None, **dict(zip(_COLUMNS, row, strict=True)))
        for seq, row in zip(seqs, rows, strict=True)
    ]


_COLUMNS = ["event_id", "type", "data", "occurred_at", "request_id"]
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
