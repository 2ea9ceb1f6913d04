"""The door: letting a ticket in, once.

The ticket row is marked used by one conditional UPDATE (`checked_in_at IS NULL AND voided_at IS
NULL`): PostgreSQL lets exactly one of two scanners with the same code change the row; the other
waits for the first to commit, re-reads the row and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.bookings import locks as booking_locks
from apps.core.db import log_on_commit
from apps.events import outbox
from apps.sessions.models import Session

from . import event_types as payment_events
from . import selectors
from .errors import CheckinNotOpen, TicketAlreadyUsed, TicketNotFound, TicketVoid
from .models import Ticket

logger = structlog.get_logger(__name__)


def checkin_window(session: Session) -> tuple:
    """From `CHECKIN_OPENS_MINUTES` before the start until the end."""
    return session.starts_at - timedelta(minutes=settings.CHECKIN_OPENS_MINUTES), session.ends_at


def ticket_check_in(*, code: str, by) -> Ticket:
    """Let the ticket with this code in, once. Raises the contract's error otherwise."""
    with transaction.atomic():
        ticket = selectors.ticket_by_code(code)
        if ticket is None:
            raise TicketNotFound()
        session = ticket.sale.session
        # Shared with sales and other scans, exclusive of a cancellation: a session cancelled
        # while this scan runs is seen cancelled, or waits for this scan to commit.
        status = booking_locks.lock_session_for_sale(session.id)
        if ticket.voided_at is not None or status != Session.Status.SCHEDULED:
            raise TicketVoid()
        if ticket.checked_in_at is not None:
            raise TicketAlreadyUsed(ticket.checked_in_at)
        now = timezone.now()
        opens_at, closes_at = checkin_window(session)
        if not opens_at <= now < closes_at:
            raise CheckinNotOpen(opens_at=opens_at, closes_at=closes_at)
        marked = Ticket.objects.filter(
            pk=ticket.pk, checked_in_at__isnull=True, voided_at__isnull=True
        ).update(checked_in_at=now, checked_in_by=by)
        if not marked:
            # Another scanner (or a refund) changed the row first: say what it became.
            ticket.refresh_from_db(fields=["checked_in_at", "voided_at"])
            if ticket.voided_at is not None:
                raise TicketVoid()
            raise TicketAlreadyUsed(ticket.checked_in_at)
        ticket.checked_in_at, ticket.checked_in_by = now, by
        outbox.emit(
            outbox.Event(
                payment_events.TICKET_CHECKED_IN,
                {"ticket_id": ticket.id, "session_id": session.id, "checked_in_at": now},
            )
        )
        log_on_commit(
            logger,
            "ticket_checked_in",
            ticket_id=str(ticket.id),
            session_id=session.id,
            by=getattr(by, "id", None),
        )
    return ticket
