"""Payments: start an attempt, apply what the provider reports, turn a success into a sale.

The attempt's row is committed (status `processing`, with the provider idempotency key) before the
provider is called, so no charge can exist without a record. Every outcome afterwards, whether the
provider answered the API call at once, announced it by webhook or was asked by reconciliation,
goes through `payment_apply()`: one transaction under the payment's row lock, so duplicates, races
and events out of order end in one state.

Lock order: the payment row, then the sale row, then the reservation (apps.bookings.locks).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from celery import current_app
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.utils import timezone, translation

from apps.bookings import errors as booking_errors
from apps.bookings import selectors as booking_selectors
from apps.bookings import services as booking_services
from apps.bookings.models import Reservation, ReservationSeat
from apps.core.db import constraint_errors, from_row, log_on_commit
from apps.core.locking import busy_as, set_lock_timeout
from apps.core.prefetch import attach_prefetched
from apps.events import outbox
from apps.payments import event_types as payment_events
from apps.sessions.models import Session

from . import metrics
from .errors import (
    PaymentBusy,
    PaymentInProgress,
    PaymentProviderError,
    PaymentProviderUnavailable,
)
from .lifecycle import PaymentStatus, check_transition
from .models import ONE_PAYMENT_IN_FLIGHT, Payment, Sale, Ticket, ticket_code
from .providers import get_provider
from .providers.base import Outcome, ProviderError, ProviderPayment, ProviderUnavailable

logger = structlog.get_logger(__name__)

# What a reservation that can no longer be bought raises when a success comes for it.
HOLD_ENDED = (
    booking_errors.ReservationExpired,
    booking_errors.ReservationNotPending,
    booking_errors.ReservationAlreadyConfirmed,
    booking_errors.SessionNotOpen,
)
REFUND_TASK = "apps.payments.tasks.refund_payment"


def queue_task(name: str, *args) -> None:
    """Queue a payments task once the current transaction commits (at once outside one). A
    broker failure is logged only: reconciliation finds the work and does it."""

    def send() -> None:
        try:
            current_app.send_task(name, args=list(args), retry=False)
        except Exception as exc:  # the broker's failures come in many types
            logger.warning("payment_task_not_queued", task=name, args=args, error=str(exc))

    transaction.on_commit(send)


def _set_status(payment: Payment, status: str) -> None:
    check_transition(payment.status, status)
    payment.status = status
    transaction.on_commit(
        lambda: metrics.PAYMENTS.labels(status=status, provider=payment.provider).inc()
    )


def _open_attempt(
    reservation: Reservation, user, provider: str, idempotency_key: str | None
) -> Payment:
    """The attempt's row, committed before the provider hears of it; a retry with the same
    Idempotency-Key finds the row it wrote the first time."""
    if idempotency_key:
        # The provider deduplicates by key across the whole merchant account, but a client's
        # Idempotency-Key is only unique per user: scope it to the reservation.
        key = str(uuid.uuid5(reservation.id, idempotency_key))
        existing = Payment.objects.filter(provider=provider, idempotency_key=key).first()
        if existing is not None:
            return existing
    else:
        key = str(uuid.uuid4())  # a fresh attempt: no earlier row can have it
    payment = Payment(
        reservation=reservation,
        user=user,
        amount=reservation.total,  # fixed when the seats were held, never from the client
        currency=settings.PAYMENT_CURRENCY,
        provider=provider,
        idempotency_key=key,
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
    in_flight = Payment.objects.filter(
        reservation=reservation, status__in=PaymentStatus.IN_FLIGHT
    ).values_list("id", flat=True)
    with constraint_errors(
        {ONE_PAYMENT_IN_FLIGHT: lambda: PaymentInProgress(in_flight.first())},
        single_statement=True,
    ):
        payment.save(force_insert=True)
    metrics.PAYMENTS.labels(status=PaymentStatus.PROCESSING, provider=provider).inc()
    return payment


def payment_start(
    *, reservation_id: uuid.UUID, user, token: str, idempotency_key: str | None = None
) -> Payment:
    """Charge the reservation's total. Returns the payment as the provider left it: succeeded
    (with `payment.sale`), pending (the hold extended) or failed. Raises the contract's errors."""
    reservation = booking_selectors.owned_reservation(reservation_id=reservation_id, user=user)
    booking_services.ensure_payable(reservation, timezone.now())  # fail before charging
    if reservation.session.status != Session.Status.SCHEDULED:  # read with the reservation
        raise booking_errors.SessionNotOpen()
    provider = get_provider()
    try:
        payment = _open_attempt(reservation, user, provider.name, idempotency_key)
    except IntegrityError:  # the same key at the same instant: the other request has it
        raise PaymentInProgress(None) from None
    if payment.status != PaymentStatus.PROCESSING:
        return _with_sale(payment)  # a retry of an attempt that already has its outcome
    log = logger.bind(payment_id=str(payment.id), reservation_id=str(reservation.id))
    try:
        observed = provider.create_payment(
            payment_id=payment.id,
            amount=payment.amount,
            currency=payment.currency,
            token=token,
            idempotency_key=payment.idempotency_key,
        )
    except (ProviderUnavailable, ProviderError) as exc:
        unavailable = isinstance(exc, ProviderUnavailable)
        kind = "unavailable" if unavailable else "error"
        metrics.PROVIDER_ERRORS.labels(provider=provider.name, kind=kind).inc()
        log.warning(f"payment_provider_{kind}", error=str(exc))
        # Whatever the provider did is reconciliation's to find; the buyer may try again.
        Payment.objects.filter(pk=payment.pk).update(call_failed_at=timezone.now())
        raise (PaymentProviderUnavailable() if unavailable else PaymentProviderError()) from exc
    return payment_apply(
        payment_id=payment.id, observed=observed, source="api", reservation=reservation
    )


def raise_unpayable(reservation: Reservation) -> None:
    """Raise the contract's error for a reservation this payment could not buy."""
    booking_services.ensure_payable(reservation, timezone.now())
    raise booking_errors.SessionNotOpen()


def _with_sale(payment: Payment) -> Payment:
    if payment.status == PaymentStatus.SUCCEEDED:
        sale = Sale.objects.filter(payment=payment).first()
        if sale is not None:
            payment.sale = sale
    return payment


def _lock_payment(payment_id: uuid.UUID) -> Payment:
    """The payment, locked: a plain statement (every payment's outcome comes through here), read
    into the model as the ORM reads rows. Raises Payment.DoesNotExist."""
    sql = f"SELECT * FROM {Payment._meta.db_table} WHERE id = %s FOR UPDATE"  # noqa: S608
    # The primary, as select_for_update() would: raw() would ask the router for a read database.
    for payment in Payment.objects.db_manager(DEFAULT_DB_ALIAS).raw(sql, [payment_id]):
        return payment
    raise Payment.DoesNotExist(f"no payment {payment_id}")


def payment_apply(
    *,
    payment_id: uuid.UUID,
    observed: ProviderPayment,
    source: str,
    reservation: Reservation | None = None,
) -> Payment:
    """Move the payment to what the provider reports, once. `reservation`, when the caller has
    it with its seats, saves reading them again."""
    with busy_as(PaymentBusy), transaction.atomic():
        set_lock_timeout(settings.LOCK_TIMEOUT_SECONDS)
        payment = _lock_payment(payment_id)
        before = (payment.status, payment.provider_reference, payment.method)
        if observed.reference and not payment.provider_reference:
            payment.provider_reference = observed.reference
        if observed.reference and observed.method and not payment.method:
            payment.method = observed.method
        log = logger.bind(
            payment_id=str(payment.id),
            reservation_id=str(payment.reservation_id),
            source=source,
            observed=observed.status,
        )
        if observed.status == Outcome.SUCCEEDED:
            _succeed(payment, log, reservation)
        elif payment.status not in PaymentStatus.IN_FLIGHT:
            # A late or repeated report of something already decided (a failure after the
            # success, a pending after the webhook): the first word stands.
            log_on_commit(log, "payment_report_ignored", status=payment.status)
        elif observed.status == Outcome.PENDING:
            _pend(payment, observed, log)
        elif observed.status == Outcome.FAILED:
            _fail(payment, observed.failure_reason or "failed", log)
        elif observed.status == Outcome.CANCELED:
            _set_status(payment, PaymentStatus.CANCELED)
            log_on_commit(log, "payment_canceled")
        # An ignored report leaves the row as it was (updated_at included).
        if (payment.status, payment.provider_reference, payment.method) != before:
            payment.save()
    return payment


def _pend(payment: Payment, observed: ProviderPayment, log) -> None:
    if payment.status == PaymentStatus.PENDING:
        return
    _set_status(payment, PaymentStatus.PENDING)
    payment.method = observed.method
    payment.next_action = observed.next_action
    outbox.emit(
        outbox.Event(
            payment_events.PAYMENT_PENDING,
            {
                "payment_id": payment.id,
                "reservation_id": payment.reservation_id,
                "method": payment.method,
                "amount": payment.amount,
            },
        )
    )
    until = timezone.now() + timedelta(seconds=settings.PAYMENT_PENDING_SECONDS)
    try:
        with transaction.atomic():
            booking_services.reservation_extend(
                reservation_id=payment.reservation_id, user=payment.user, until=until
            )
    except HOLD_ENDED:
        # The hold ended while the provider answered: this payment can no longer buy it.
        queue_task("apps.payments.tasks.cancel_payment", str(payment.id))
        log_on_commit(log, "payment_pending_after_hold", status=payment.status)
        return
    log_on_commit(log, "payment_pending", method=payment.method)


def _fail(payment: Payment, reason: str, log) -> None:
    _set_status(payment, PaymentStatus.FAILED)
    payment.failure_reason = reason[:200]
    outbox.emit(
        outbox.Event(
            payment_events.PAYMENT_FAILED,
            {"payment_id": payment.id, "reservation_id": payment.reservation_id, "reason": reason},
        )
    )
    # The hold stays until its deadline, so the buyer can try again.
    log_on_commit(log, "payment_declined", reason=reason)


def _succeed(payment: Payment, log, reservation: Reservation | None) -> None:
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
        log_on_commit(log, "payment_report_ignored", status=payment.status)
        return
    _set_status(payment, PaymentStatus.SUCCEEDED)
    try:
        with transaction.atomic():
            sale = _sell(payment, reservation)
    except HOLD_ENDED as exc:
        # Paid after the hold ended, or its seats went to someone else: give the money back.
        request_refund(payment, Payment.RefundReason.LATE)
        log_on_commit(log, "payment_succeeded_late", level="warning", hold=getattr(exc, "code", ""))
        return
    payment.sale = sale
    amount = payment.amount
    transaction.on_commit(lambda: _count_sale(amount))
    log_on_commit(log, "payment_confirmed", sale_id=str(sale.id), total=str(amount))


def _count_sale(amount) -> None:
    metrics.SALES.inc()
    metrics.REVENUE.inc(float(amount))


# The sale and its tickets in one statement, without the ORM's query compiler: every payment
# writes them. The unique constraints (one sale per reservation and per payment, one ticket per
# session seat) stay the last guard, as with the ORM.
_INSERT_SALE_SQL = """
WITH sale AS (
  INSERT INTO {sale} (id, reservation_id, payment_id, user_id, session_id, total, paid_at,
                      language, status)
  VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
  RETURNING id
)
INSERT INTO {ticket} (id, sale_id, session_seat_id, code, ticket_type, price)
SELECT ticket.id, sale.id, ticket.session_seat_id, ticket.code, ticket.ticket_type, ticket.price
FROM sale, unnest(%s::uuid[], %s::bigint[], %s::varchar[], %s::varchar[], %s::numeric[])
  AS ticket(id, session_seat_id, code, ticket_type, price)
"""


def _insert_sale(
    payment: Payment, reservation: Reservation, seats: list[ReservationSeat]
) -> tuple[Sale, list[Ticket]]:
    """Write the sale of the reservation's seats and one ticket per seat; returns them as the
    ORM builds rows it read, each ticket with the session seat (and label) its seat brought."""
    sale_row = {
        "id": uuid.uuid4(),
        "reservation_id": reservation.id,
        "payment_id": payment.id,
        "user_id": payment.user_id,
        "session_id": reservation.session_id,
        "total": payment.amount,
        "paid_at": timezone.now(),
        "language": payment.language,
        "status": Sale.Status.PAID,
    }
    ticket_rows = [
        {
            "id": uuid.uuid4(),
            "session_seat_id": seat.session_seat_id,
            "code": ticket_code(),
            "ticket_type": seat.ticket_type,
            "price": seat.price,
        }
        for seat in seats
    ]
    columns = ("id", "session_seat_id", "code", "ticket_type", "price")
    sql = _INSERT_SALE_SQL.format(sale=Sale._meta.db_table, ticket=Ticket._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [*sale_row.values(), *([row[name] for row in ticket_rows] for name in columns)],
        )
    sale = from_row(Sale, **sale_row, refunded_at=None)
    tickets = []
    for row, seat in zip(ticket_rows, seats, strict=True):
        unused = {"voided_at": None, "checked_in_at": None, "checked_in_by_id": None}
        ticket = from_row(Ticket, **row, sale_id=sale.id, **unused)
        ticket.sale = sale
        ticket.session_seat = seat.session_seat
        tickets.append(ticket)
    return sale, tickets


def _sell(payment: Payment, reservation: Reservation | None) -> Sale:
    """The sale and its tickets, in the transaction that closes the hold as sold."""
    # The reservation the caller read, if any, spares reading its owner and seats again.
    owner = payment.user if reservation is None else reservation.user
    seat_ids = None if reservation is None else [s.session_seat_id for s in reservation.seats.all()]
    confirmed = booking_services.reservation_confirm(
        reservation_id=payment.reservation_id, user=owner, seat_ids=seat_ids
    )
    if reservation is None:
        reservation = booking_selectors.reservation_queryset().get(pk=payment.reservation_id)
    sale, tickets = _insert_sale(payment, confirmed, list(reservation.seats.all()))
    outbox.emit(
        outbox.Event(
            payment_events.PAYMENT_CONFIRMED,
            {
                "reservation_id": confirmed.id,
                "sale_id": sale.id,
                "session_id": confirmed.session_id,
                "user_id": payment.user_id,
                "seat_ids": sorted(ticket.session_seat_id for ticket in tickets),
                "total": payment.amount,
            },
        )
    )
    # The caller renders the new sale from memory instead of reading it back: its tickets in
    # seat order, as `selectors.sale_detail` gives them, with the seats the reservation brought.
    attach_prefetched(
        sale,
        "tickets",
        sorted(tickets, key=lambda t: (t.session_seat.seat.row, t.session_seat.seat.number)),
    )
    return sale


def request_refund(payment: Payment, reason: str) -> None:
    """Record that the money must go back, and queue the provider call for after the commit.
    A step of the caller's transaction, with the payment row locked."""
    if payment.refund_requested_at is not None:
        return
    payment.refund_reason = reason
    payment.refund_requested_at = timezone.now()
    queue_task(REFUND_TASK, str(payment.id))


def void_sale(sale: Sale) -> None:
    """The sale is refunded: its tickets void, its seats on sale again. A step of the caller's
    transaction, with the payment and sale rows locked."""
    now = timezone.now()
    sale.status = Sale.Status.REFUNDED
    sale.refunded_at = now
    sale.save(update_fields=["status", "refunded_at"])
    Ticket.objects.filter(sale=sale, voided_at__isnull=True).update(voided_at=now)
    booking_services.reservation_release_sold(reservation_id=sale.reservation_id)


def payment_apply_refund(*, payment_id: uuid.UUID, source: str) -> Payment:
    """The provider gave the money back (its answer to our refund, or its webhook)."""
    with busy_as(PaymentBusy), transaction.atomic():
        set_lock_timeout(settings.LOCK_TIMEOUT_SECONDS)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        log = logger.bind(payment_id=str(payment.id), source=source)
        if payment.status == PaymentStatus.REFUNDED:
            log_on_commit(log, "payment_report_ignored", status=payment.status, observed="refunded")
            return payment
        sale = Sale.objects.select_for_update().filter(payment=payment).first()
        if sale is not None and sale.status == Sale.Status.PAID:
            # Refunded at the provider by someone else (its dashboard): the tickets go too.
            void_sale(sale)
        if not payment.refund_reason:
            payment.refund_reason = (
                Payment.RefundReason.REQUESTED if sale else Payment.RefundReason.LATE
            )
        _set_status(payment, PaymentStatus.REFUNDED)
        payment.refunded_at = timezone.now()
        payment.save()
        outbox.emit(
            outbox.Event(
                payment_events.PAYMENT_REFUNDED,
                {
                    "payment_id": payment.id,
                    "reservation_id": payment.reservation_id,
                    # Beyond the contract's fields: what per-session readers (statistics) need.
                    "session_id": payment.reservation.session_id,
                    "seat_ids": sorted(
                        sale.tickets.values_list("session_seat_id", flat=True) if sale else []
                    ),
                    "sale_id": sale.id if sale else None,
                    "amount": payment.amount,
                    "reason": payment.refund_reason,
                },
            )
        )
        reason = payment.refund_reason
        transaction.on_commit(lambda: metrics.REFUNDS.labels(reason=reason, result="done").inc())
    log.info("payment_refunded", reason=payment.refund_reason)
    return payment
