"""Celery tasks: thin, taking ids, safe to run twice."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def expire_reservations(reservation_ids: list[str]) -> None:
    """Runs at the latest deadline of a group of holds (ETA, see expiry_groups); each is a no-op
    if it was paid, cancelled or already expired."""
    early: dict[str, float] = {}
    for reservation_id in reservation_ids:
        outcome = services.reservation_expire(reservation_id=uuid.UUID(reservation_id))
        if outcome.retry_in is not None:
            early[reservation_id] = outcome.retry_in
    if early:  # delivered early (clock skew): come back at the deadline
        expire_reservations.apply_async(args=[list(early)], countdown=max(early.values()))


@shared_task(acks_late=True, ignore_result=True)
def expire_reservation(reservation_id: str) -> None:
    """One hold's expiry, as queued before holds were grouped: still honoured."""
    expire_reservations([reservation_id])


@shared_task(acks_late=True, ignore_result=True)
def sweep_expired_reservations() -> int:
    """Safety net run by beat every few seconds: expire whatever the ETA tasks missed."""
    expired = services.expire_overdue_reservations()
    if expired:
        logger.info("sweeper expired %d reservations", expired)
    return expired


def schedule_expiry(*, reservation_ids: list[str], eta: datetime, strict: bool = False) -> None:
    """Queue one expiry task for these holds at `eta`. Unless `strict`, a broker failure is only
    logged: the sweeper expires the holds instead, and reads treat them as free at their
    deadlines anyway."""
    try:
        expire_reservations.apply_async(args=[reservation_ids], eta=eta, retry=False)
    except Exception as exc:  # the broker's failures come in many types
        if strict:
            raise
        logger.warning("could not queue expiry of %s, the sweeper will: %s", reservation_ids, exc)
