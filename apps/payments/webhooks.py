"""Provider webhooks: stored the moment they arrive (answered 200 once stored), processed once by
a Celery task. Deduplication is the unique (provider, event id) and the processed mark written in
the transaction of the event's effect: a worker killed halfway leaves the event to be processed
again, from the start, exactly once."""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import NotFound

from . import metrics
from .errors import InvalidWebhookSignature
from .models import Payment, WebhookEvent
from .providers import provider_named
from .providers.base import EventType, InvalidSignature, Outcome, ProviderPayment
from .services import payment_apply, payment_apply_refund, queue_task

logger = structlog.get_logger(__name__)

PROCESS_TASK = "apps.payments.tasks.process_webhook_event"
_OUTCOMES = {
    EventType.PAYMENT_SUCCEEDED: Outcome.SUCCEEDED,
    EventType.PAYMENT_FAILED: Outcome.FAILED,
    EventType.PAYMENT_CANCELED: Outcome.CANCELED,
}


def webhook_receive(*, provider_name: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Check and store one webhook; True if it is new. Raises InvalidWebhookSignature (nothing
    stored) or NotFound for a provider that is not configured here."""
    provider = provider_named(provider_name)
    if provider is None:
        raise NotFound()
    try:
        event = provider.parse_webhook(body=body, headers=headers)
    except InvalidSignature as exc:
        metrics.WEBHOOKS_RECEIVED.labels(provider=provider_name, result="invalid_signature").inc()
        logger.warning("webhook_refused", provider=provider_name, reason=str(exc))
        raise InvalidWebhookSignature() from exc
    row = WebhookEvent(
        provider=provider_name,
        event_id=event.id,
        type=event.type,
        payment_id=event.payment_id,
        reference=event.reference,
        failure_reason=event.failure_reason[:200],
        payload=event.payload,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            queue_task(PROCESS_TASK, row.pk)
    except IntegrityError:
        metrics.WEBHOOKS_RECEIVED.labels(provider=provider_name, result="duplicate").inc()
        logger.info("webhook_duplicate", provider=provider_name, event_id=event.id)
        return False
    metrics.WEBHOOKS_RECEIVED.labels(provider=provider_name, result="stored").inc()
    logger.info(
        "webhook_stored",
        provider=provider_name,
        event_id=event.id,
        type=event.type,
        payment_id=str(event.payment_id),
    )
    return True


def _payment_of(event: WebhookEvent) -> Payment | None:
    if event.payment_id is not None:
        payment = Payment.objects.filter(pk=event.payment_id, provider=event.provider).first()
        if payment is not None:
            return payment
    if event.reference:
        return Payment.objects.filter(
            provider=event.provider, provider_reference=event.reference
        ).first()
    return None


def webhook_event_process(*, event_pk: int) -> str:
    """Apply one stored event, once. Returns what became of it."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None or event.processed_at is not None:
            return "duplicate"
        payment = _payment_of(event)
        if payment is None:
            outcome = "unknown_payment"
        elif event.type == EventType.REFUND_SUCCEEDED:
            payment_apply_refund(payment_id=payment.id, source="webhook")
            outcome = "applied"
        elif event.type in _OUTCOMES:
            observed = ProviderPayment(
                reference=event.reference,
                status=_OUTCOMES[event.type],
                method=payment.method,
                failure_reason=event.failure_reason,
            )
            payment_apply(payment_id=payment.id, observed=observed, source="webhook")
            outcome = "applied"
        else:
            outcome = "ignored"
        event.processed_at = timezone.now()
        event.outcome = outcome
        event.save(update_fields=["processed_at", "outcome"])
        latency = (event.processed_at - event.received_at).total_seconds()
        provider = event.provider
        transaction.on_commit(
            lambda: metrics.WEBHOOK_LATENCY.labels(provider=provider).observe(latency)
        )
    logger.info(
        "webhook_processed",
        provider=event.provider,
        event_id=event.event_id,
        type=event.type,
        payment_id=str(payment.id) if payment else None,
        outcome=outcome,
    )
    return outcome
