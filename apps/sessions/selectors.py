"""Reads of sessions and their seat maps."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.cache import caches
from django.db.models import QuerySet

from apps.rooms.models import Room

from .models import Session, SessionSeat


def session_list() -> QuerySet[Session]:
    return Session.objects.select_related("movie", "room__cinema").order_by("starts_at", "id")


def session_for_booking(session_id: int) -> Session | None:
    """Just the session row: what a reservation needs (status, start, price), no joins.

    Read through this process's memory for up to `BOOKING_SESSION_CACHE_SECONDS`: every request
    of a rush names the same session, and the losers need nothing else before Redis refuses them.
    The reservation transaction reads the row again (with the seat locks), so a session cancelled
    or repriced a moment ago never gets a hold on the old terms.
    """
    local = caches["local"]
    key = f"booking-session:{session_id}"
    session = local.get(key)
    if session is None:
        session = Session.objects.filter(pk=session_id).first()
        if session is not None:
            local.set(key, session, settings.BOOKING_SESSION_CACHE_SECONDS)
    return session


def overlapping_sessions(
    *, room: Room, starts_at: datetime, ends_at: datetime
) -> QuerySet[Session]:
    return Session.objects.filter(
        room=room,
        status=Session.Status.SCHEDULED,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    )


def session_seats(session: Session) -> QuerySet[SessionSeat]:
    return session.seats.select_related("seat").order_by("seat__row", "seat__number")
