"""Celery tasks: thin, taking ids, safe to run twice."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def expire_reservation(reservation_id: str) -> None:
    """Runs at the hold's deadline (ETA); a no-op if it was paid, cancelled or already expired."""
    outcome = services.reservation_expire(reservation_id=uuid.UUID(reservation_id))
    if outcome.retry_in is not None:  # delivered early (clock skew): come back at the deadline
        expire_reservation.apply_async(args=[reservation_id], countdown=outcome.retry_in)


@shared_task(acks_late=True, ignore_result=True)
def sweep_expired_reservations() -> int:
    """Safety net run by beat every few seconds: expire whatever the ETA tasks missed."""
    expired = services.expire_overdue_reservations()
    if expired:
        logger.info("sweeper expired %d reservations", expired)
    return expired


def schedule_expiry(*, reservation_id: uuid.UUID, eta: datetime, strict: bool = False) -> None:
    """Queue the expiry task for the deadline. Unless `strict`, a broker failure is only logged:
    the sweeper expires the hold instead, and reads treat it as free at the deadline anyway."""
    try:
        expire_reservation.apply_async(args=[str(reservation_id)], eta=eta, retry=False)
    except Exception as exc:  # the broker's failures come in many types
        if strict:
            raise
        logger.warning("could not queue expiry of %s, the sweeper will: %s", reservation_id, exc)
