"""Celery tasks of payments: thin, taking ids, safe to run twice (each ends in a service that
checks the state under a row lock)."""

from __future__ import annotations

import uuid

from celery import shared_task

from . import reconciliation, refunds, webhooks
from .providers.fake import deliver_sandbox_webhook  # noqa: F401 - registers the sandbox's task


@shared_task(acks_late=True, ignore_result=True)
def process_webhook_event(event_pk: int) -> str:
    return webhooks.webhook_event_process(event_pk=event_pk)


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(refunds.RefundNotDone,),
    retry_backoff=5,
    retry_jitter=True,
    retry_backoff_max=600,
    # The payment's own attempt count (PAYMENT_REFUND_MAX_RETRIES) decides when staff are told;
    # a flagged payment ends its retries.
    max_retries=None,
)
def refund_payment(payment_id: str) -> None:
    refunds.payment_refund_at_provider(payment_id=uuid.UUID(payment_id))


@shared_task(acks_late=True, ignore_result=True)
def cancel_payment(payment_id: str) -> str:
    """A pending payment whose hold ended: cancel it at the provider (or refund it, if it
    settled first)."""
    return reconciliation.reconcile_payment(payment_id=uuid.UUID(payment_id))


@shared_task(acks_late=True, ignore_result=True, time_limit=1800, soft_time_limit=1700)
def refund_session_sales(session_id: int) -> int:
    return refunds.refund_session_sales(session_id=session_id)


@shared_task(ignore_result=True)
def reconcile_payments() -> int:
    return reconciliation.reconcile_payments()
