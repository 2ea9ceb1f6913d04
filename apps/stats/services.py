"""Apply batches of booking events to the per-session statistics, one write per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from apps.bookings import event_types as booking_events
from apps.events.consumers import ReceivedEvent
from apps.payments import event_types as payment_events

from .models import SessionStats


@dataclass
class Delta:
    held: int = 0
    sold: int = 0
    revenue: Decimal = Decimal("0")
    events: int = 0


def deltas_of(received: Iterable[ReceivedEvent]) -> dict[int, Delta]:
    """Net change per session of a batch of events (pure: no database)."""
    deltas: dict[int, Delta] = defaultdict(Delta)
    for event in received:
        delta = deltas[int(event.data["session_id"])]
        seats = len(event.data.get("seat_ids", []))
        delta.events += 1
        if event.type == booking_events.RESERVATION_CREATED:
            delta.held += seats
        elif event.type in (
            booking_events.RESERVATION_CANCELLED,
            booking_events.RESERVATION_EXPIRED,
        ):
            delta.held -= seats
        elif event.type == payment_events.PAYMENT_CONFIRMED:
            delta.held -= seats
            delta.sold += seats
            delta.revenue += Decimal(str(event.data["total"]))
        elif event.type == payment_events.PAYMENT_REFUNDED and event.data["sale_id"]:
            # A refunded sale gives its seats and money back; a late refund sold nothing.
            delta.sold -= seats
            delta.revenue -= Decimal(str(event.data["amount"]))
    return dict(deltas)


def apply_events(received: list[ReceivedEvent]) -> int:
    """Add a batch's net changes to the statistics in one statement; returns sessions touched."""
    deltas = deltas_of(received)
    if not deltas:
        return 0
    rows = [
        (session_id, d.held, d.sold, d.revenue, d.events)
        for session_id, d in sorted(deltas.items())
    ]
    values = ", ".join(["(%s, %s, %s, %s, %s, now())"] * len(rows))
    table = SessionStats._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table}
                (session_id, seats_held, seats_sold, revenue, events_applied, updated_at)
            VALUES {values}
            ON CONFLICT (session_id) DO UPDATE SET
                seats_held = {table}.seats_held + EXCLUDED.seats_held,
                seats_sold = {table}.seats_sold + EXCLUDED.seats_sold,
                revenue = {table}.revenue + EXCLUDED.revenue,
                events_applied = {table}.events_applied + EXCLUDED.events_applied,
                updated_at = now()
            """,  # noqa: S608 - only placeholders are interpolated
            [value for row in rows for value in row],
        )
    return len(rows)
