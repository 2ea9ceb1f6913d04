from celery import shared_task

from .idempotency import prune_idempotency_keys


@shared_task(ignore_result=True)
def prune_idempotency_keys_task() -> int:
    """Drop Idempotency-Key records past their 24 h retention."""
    return prune_idempotency_keys()
