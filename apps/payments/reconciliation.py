"""Reconciliation: ask the provider about what the app is still waiting for, and finish it.

Run by beat. It catches what a lost webhook, a crash between the provider's answer and our commit,
a provider outage or a lost task left behind: attempts still `processing` or `pending` past
`PAYMENT_RECONCILE_AFTER_SECONDS`, pending payments whose hold has ended (cancelled at the
provider), refunds not yet done, and stored webhooks nobody processed. Every answer goes through the
same handlers as the API and the webhooks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta

import structlog
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.bookings import selectors as booking_selectors

from . import metrics
from .lifecycle import PaymentStatus
from .models import Payment, WebhookEvent
from .providers import provider_named
from .providers.base import Outcome, ProviderError, ProviderPayment, ProviderUnavailable
from .refunds import RefundNotDone, payment_refund_at_provider
from .services import payment_apply, queue_task
from .webhooks import PROCESS_TASK

logger = structlog.get_logger(__name__)


def reconcile_payment(*, payment_id: uuid.UUID) -> str:
    """Bring one in-flight payment up to date with the provider. Returns its status after."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status not in PaymentStatus.IN_FLIGHT:
        return payment.status
    provider = provider_named(payment.provider)
    if provider is None:
        return payment.status
    log = logger.bind(payment_id=str(payment.id), status=payment.status)
    try:
        if payment.provider_reference:
            observed = provider.retrieve_payment(reference=payment.provider_reference)
        else:
            observed = provider.find_payment(
                payment_id=payment.id, idempotency_key=payment.idempotency_key
            )
        if observed is None:
            age = (timezone.now() - payment.created_at).total_seconds()
            if age < provider.lookup_lag_seconds:
                log.info("reconciliation_lookup_too_early", age=age)
                return payment.status  # the provider may not show it yet: ask again later
            # The provider never got the request: nothing was charged.
            observed = ProviderPayment(
                reference="", status=Outcome.FAILED, failure_reason="provider_never_charged"
            )
        elif observed.status == Outcome.PENDING and not _hold_open(payment):
            observed = provider.cancel_payment(reference=observed.reference)
    except (ProviderUnavailable, ProviderError) as exc:
        log.warning("reconciliation_provider_down", error=str(exc))
        return payment.status
    before = payment.status
    payment = payment_apply(payment_id=payment.id, observed=observed, source="reconciliation")
    if payment.status != before:
        metrics.RECONCILIATION_FIXES.labels(status=payment.status).inc()
        log.info("payment_reconciled", now=payment.status)
    return payment.status


def _hold_open(payment: Payment) -> bool:
    reservation = booking_selectors.reservation_queryset().get(pk=payment.reservation_id)
    return not reservation.is_overdue(timezone.now()) and reservation.status == "pending"


@contextmanager
def _each(step: str, payment_id: uuid.UUID) -> Iterator[None]:
    """One payment's trouble is logged and left for the next pass, never the end of this one."""
    try:
        yield
    except Exception:
        logger.exception("reconciliation_step_failed", step=step, payment_id=str(payment_id))


def reconcile_payments(*, limit: int = 200) -> int:
    """One pass over everything waiting. Returns how many payments it looked at."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS)
    in_flight = Payment.objects.filter(status__in=PaymentStatus.IN_FLIGHT).filter(
        Q(updated_at__lt=stale)
        # A pending payment whose hold ran out is cancelled at once, not after the threshold.
        | Q(status=PaymentStatus.PENDING, reservation__expires_at__lt=now)
        | Q(status=PaymentStatus.PENDING, reservation__status__in=["expired", "cancelled"])
    )
    ids = list(in_flight.order_by("updated_at").values_list("id", flat=True)[:limit])
    for payment_id in ids:
        with _each("reconcile", payment_id):
            reconcile_payment(payment_id=payment_id)
    refunds_due = Payment.objects.filter(
        status=PaymentStatus.SUCCEEDED,
        refund_requested_at__lt=stale,
        needs_attention=False,
    ).values_list("id", flat=True)[:limit]
    for payment_id in list(refunds_due):
        with _each("refund", payment_id), suppress(RefundNotDone):
            # A refund that fails is counted, and flagged after the last try, by the refund.
            payment_refund_at_provider(payment_id=payment_id)
    forgotten = WebhookEvent.objects.filter(
        processed_at__isnull=True, received_at__lt=now - timedelta(seconds=30)
    ).values_list("pk", flat=True)[:limit]
    for event_pk in list(forgotten):
        queue_task(PROCESS_TASK, event_pk)
    return len(ids)
