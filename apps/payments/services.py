"""Payment confirmation: charge the buyer, then turn the hold into a sale with tickets.

The gateway is called before any lock is taken, so a slow provider never holds seat or
reservation locks. The confirming transaction then re-checks the hold under its row lock; if the
hold ran out (or another payment won) meanwhile, the charge is refunded.
"""

from __future__ import annotations

import uuid

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from apps.bookings import selectors as booking_selectors
from apps.bookings import services as booking_services
from apps.core import events, metrics
from apps.core.prefetch import attach_prefetched

from .errors import PaymentDeclined
from .gateway import get_gateway
from .models import Payment, Sale, Ticket

logger = structlog.get_logger(__name__)


def payment_confirm(
    *, reservation_id: uuid.UUID, user, token: str, idempotency_key: str | None = None
) -> Sale:
    reservation = booking_selectors.owned_reservation(reservation_id=reservation_id, user=user)
    booking_services.ensure_payable(reservation, timezone.now())  # fail before charging
    # The amount comes from the prices fixed when the seats were held, never from the client.
    amount = reservation.total
    gateway = get_gateway()
    # The provider deduplicates by key across the whole merchant account, but a client's
    # Idempotency-Key is only unique per user: scope it to the reservation (stable across retries).
    provider_key = (
        str(uuid.uuid5(reservation.id, idempotency_key)) if idempotency_key else str(uuid.uuid4())
    )
    charge = gateway.charge(amount=amount, token=token, idempotency_key=provider_key)
    payment = Payment(
        reservation=reservation,
        user=user,
        amount=amount,
        provider=gateway.name,
        provider_reference=charge.reference,
    )
    if not charge.approved:
        payment.status = Payment.Status.DECLINED
        payment.decline_reason = charge.decline_reason
        payment.save()
        logger.info(
            "payment_declined", reservation_id=str(reservation.id), reason=charge.decline_reason
        )
        raise PaymentDeclined()

    try:
        with transaction.atomic():
            payment.status = Payment.Status.APPROVED
            payment.save()
            confirmed = booking_services.reservation_confirm(
                reservation_id=reservation.id, user=user
            )
            sale = Sale.objects.create(
                reservation=confirmed,
                payment=payment,
                user=user,
                session_id=confirmed.session_id,
                total=amount,
                paid_at=timezone.now(),
                # The ticket e-mail goes out in the language the buyer paid in.
                language=translation.get_language() or settings.LANGUAGE_CODE,
            )
            tickets = Ticket.objects.bulk_create(
                Ticket(sale=sale, session_seat=seat.session_seat, price=seat.price)
                for seat in reservation.seats.all()
            )
            events.emit(
                events.Event(
                    events.PAYMENT_CONFIRMED,
                    {
                        "reservation_id": confirmed.id,
                        "sale_id": sale.id,
                        "session_id": confirmed.session_id,
                        "user_id": user.id,
                        "seat_ids": sorted(ticket.session_seat_id for ticket in tickets),
                        "total": amount,
                    },
                )
            )
    except Exception:
        # The hold ran out or another payment won while we charged: give the money back.
        gateway.refund(reference=charge.reference, amount=amount)
        payment.status = Payment.Status.REFUNDED
        payment.save(force_insert=True)
        logger.warning(
            "payment_refunded", reservation_id=str(reservation.id), reference=charge.reference
        )
        raise
    # The caller renders the new sale from memory instead of reading it back: its tickets in
    # seat order, as `selectors.sale_detail` gives them, with the seats the reservation brought.
    attach_prefetched(
        sale,
        "tickets",
        sorted(tickets, key=lambda t: (t.session_seat.seat.row, t.session_seat.seat.number)),
    )
    metrics.SALES.inc()
    metrics.REVENUE.inc(float(amount))
    logger.info(
        "payment_confirmed",
        reservation_id=str(reservation.id),
        sale_id=str(sale.id),
        total=str(amount),
    )
    return sale
