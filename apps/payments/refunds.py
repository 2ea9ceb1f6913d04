"""Refunds: of one sale (by its buyer or staff), of every sale of a cancelled session, and the
provider call that gives the money back, retried until it succeeds or staff are told."""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.api.permissions import user_has_perms
from apps.bookings import services as booking_services
from apps.core.errors import NotFound
from apps.core.locking import busy_as, set_lock_timeout
from apps.sessions import services as session_services
from apps.sessions.models import Session

from . import metrics
from .errors import RefundWindowClosed, SaleAlreadyRefunded, SaleBusy
from .lifecycle import PaymentStatus
from .models import Payment, Sale
from .providers import provider_named
from .providers.base import ProviderError, ProviderUnavailable
from .services import payment_apply_refund, queue_task, request_refund, void_sale

logger = structlog.get_logger(__name__)

SESSION_REFUNDS_TASK = "apps.payments.tasks.refund_session_sales"


# Refunds any buyer's sale, until the session starts (the "Box office" role holds it).
REFUND_ANY_SALE = "payments.refund_sale"


class RefundNotDone(Exception):
    """The provider did not take the refund this time; it is tried again later."""


def _check_window(sale: Sale, user, now) -> None:
    starts_at = sale.session.starts_at
    closes = (
        starts_at
        if user_has_perms(user, REFUND_ANY_SALE)
        else starts_at - timedelta(minutes=settings.REFUND_DEADLINE_MINUTES)
    )
    if now >= closes:
        raise RefundWindowClosed()


def sale_refund(
    *, sale_id: uuid.UUID, user=None, reason: str = Payment.RefundReason.REQUESTED
) -> Sale:
    """Refund a paid sale: tickets void, seats on sale again, the money queued to go back.
    `user` is the buyer (until REFUND_DEADLINE_MINUTES before the session) or holds
    `payments.refund_sale` (until it starts); None is the system refunding a cancelled session,
    at any time. Anyone else's sale is not found: nothing says that it exists."""
    sale = Sale.objects.select_related("session").filter(pk=sale_id).first()
    if sale is None or (
        user is not None and sale.user_id != user.id and not user_has_perms(user, REFUND_ANY_SALE)
    ):
        raise NotFound(_("Sale not found."))
    with busy_as(SaleBusy), transaction.atomic():
        set_lock_timeout(settings.LOCK_TIMEOUT_SECONDS)
        payment = Payment.objects.select_for_update().get(pk=sale.payment_id)
        sale = Sale.objects.select_for_update().select_related("session").get(pk=sale_id)
        if sale.status == Sale.Status.REFUNDED:
            raise SaleAlreadyRefunded()
        if user is not None:
            _check_window(sale, user, timezone.now())
        void_sale(sale)
        request_refund(payment, reason)
        payment.save()
    logger.info(
        "sale_refunded",
        sale_id=str(sale.id),
        payment_id=str(payment.id),
        reason=reason,
        by=getattr(user, "id", None),
    )
    return sale


def payment_refund_at_provider(*, payment_id: uuid.UUID) -> bool:
    """Ask the provider to give the money back (idempotent by the payment's refund key).
    True when done or nothing is owed; raises RefundNotDone to be tried again."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentStatus.SUCCEEDED or payment.refund_requested_at is None:
        return True
    if payment.needs_attention:
        return True  # automation gave up on it: staff decide (the admin shows it)
    log = logger.bind(payment_id=str(payment.id), reason=payment.refund_reason)
    provider = provider_named(payment.provider)
    if provider is None:
        raise _failed(payment, f"provider {payment.provider} is not configured", log)
    try:
        if not payment.provider_reference:
            # A success announced before the API call recorded the provider's id: look it up.
            found = provider.find_payment(
                payment_id=payment.id, idempotency_key=payment.idempotency_key
            )
            if found is None:
                raise _failed(payment, "the provider does not know this payment", log)
            payment.provider_reference = found.reference
            Payment.objects.filter(pk=payment.pk).update(provider_reference=found.reference)
        refund = provider.refund_payment(
            reference=payment.provider_reference,
            amount=payment.amount,
            idempotency_key=f"refund-{payment.id}",
        )
    except (ProviderUnavailable, ProviderError) as exc:
        raise _failed(payment, str(exc), log) from exc
    if refund.status == "succeeded":
        payment_apply_refund(payment_id=payment.id, source="refund")
        return True
    if refund.status == "pending":  # the provider confirms by webhook
        log.info("refund_pending_at_provider")
        return True
    raise _failed(payment, "the provider refused the refund", log)


def _failed(payment: Payment, why: str, log) -> RefundNotDone:
    """Count a failed attempt (flagging the payment for staff after the last) and return the
    error for the caller to raise."""
    attempts = payment.refund_attempts + 1
    give_up = attempts > settings.PAYMENT_REFUND_MAX_RETRIES
    Payment.objects.filter(pk=payment.pk).update(
        refund_attempts=F("refund_attempts") + 1,
        needs_attention=give_up,
        attention_reason=_("The refund failed %(n)d times: %(why)s") % {"n": attempts, "why": why}
        if give_up
        else "",
    )
    result = "attention" if give_up else "retry"
    metrics.REFUNDS.labels(reason=payment.refund_reason, result=result).inc()
    log.warning("refund_failed", attempts=attempts, error=why, needs_attention=give_up)
    return RefundNotDone(why)


def session_cancel(*, session_id: int) -> int:
    """Cancel the session and queue the refund of all its sales; safe to call again (it queues
    the refunds again, which carry on where they stopped). Returns how many sales are left."""
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        raise NotFound(_("Session not found."))
    with transaction.atomic():
        if session.status != Session.Status.CANCELLED:
            session_services.session_cancel(session=session)
            booking_services.live_seats_end_on_commit(
                session_id=session_id, reason="session_cancelled"
            )
        queue_task(SESSION_REFUNDS_TASK, session_id)
    return Sale.objects.filter(session_id=session_id, status=Sale.Status.PAID).count()


def refund_session_sales(*, session_id: int, batch_size: int = 50) -> int:
    """Refund every paid sale of a cancelled session, a batch at a time, each sale in its own
    transaction: a worker killed halfway leaves the rest for the next run. Returns how many."""
    refunded = 0
    while True:
        ids = list(
            Sale.objects.filter(session_id=session_id, status=Sale.Status.PAID)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        for sale_id in ids:
            try:
                sale = sale_refund(sale_id=sale_id, reason=Payment.RefundReason.SESSION_CANCELLED)
            except SaleAlreadyRefunded:
                continue
            refunded += 1
            # On failure its retry task (queued by request_refund) carries on; so does the batch.
            with suppress(RefundNotDone):
                payment_refund_at_provider(payment_id=sale.payment_id)
        if len(ids) < batch_size:
            _finish_requested_refunds(session_id)
            logger.info("session_refunds_done", session_id=session_id, refunded=refunded)
            return refunded


def _finish_requested_refunds(session_id: int) -> None:
    """The session's refunds that were asked for but are not done: a worker killed between a
    sale's refund commit and the queueing of its retry task leaves one, which this run (the
    redelivered task) takes on at once instead of leaving it to reconciliation."""
    stragglers = Payment.objects.filter(
        sale__session_id=session_id,
        status=PaymentStatus.SUCCEEDED,
        refund_requested_at__isnull=False,
        needs_attention=False,
    ).values_list("id", flat=True)
    for payment_id in list(stragglers):
        with suppress(RefundNotDone):
            payment_refund_at_provider(payment_id=payment_id)
