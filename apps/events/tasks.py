import logging

from celery import shared_task

from .relay import prune_outbox, relay_outbox

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True)
def relay_outbox_task() -> int:
    """Publish pending outbox events (beat's safety net behind the workers' relay loops)."""
    try:
        return relay_outbox()
    except Exception as exc:  # broker down: the rows wait for the next run
        logger.warning("outbox relay could not publish: %s", exc)
        return 0


@shared_task(ignore_result=True)
def prune_outbox_task() -> int:
    return prune_outbox()
