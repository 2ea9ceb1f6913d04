import logging

from celery import shared_task

from .idempotency import prune_idempotency_keys

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def prune_idempotency_keys_task() -> int:
    """Drop Idempotency-Key records past their 24 h retention."""
    return prune_idempotency_keys()


@shared_task(ignore_result=True, acks_late=True)
def relay_outbox_task() -> int:
    """Publish pending outbox events (beat's safety net behind the workers' relay loops)."""
    from .relay import relay_outbox

    try:
        return relay_outbox()
    except Exception as exc:  # broker down: the rows wait for the next run
        logger.warning("outbox relay could not publish: %s", exc)
        return 0


@shared_task(ignore_result=True)
def prune_outbox_task() -> int:
    from .relay import prune_outbox

    return prune_outbox()
