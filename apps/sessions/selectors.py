"""Reads of sessions and their seat maps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import caches
from django.db.models import QuerySet
from rest_framework.renderers import JSONRenderer

from apps.rooms.models import Room

from . import seat_map_cache
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


def session_sells(session_id: int) -> bool:
    """Whether the session still sells (scheduled, not cancelled), read now from the table."""
    return Session.objects.filter(pk=session_id, status=Session.Status.SCHEDULED).exists()


def overlapping_sessions(
    *, room: Room, starts_at: datetime, ends_at: datetime
) -> QuerySet[Session]:
    return Session.objects.filter(
        room=room,
        status=Session.Status.SCHEDULED,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    )


@dataclass(frozen=True)
class SeatMapEntry:
    id: int
    label: str
    row: str
    number: int
    status: str


def session_seats(session: Session) -> QuerySet[SessionSeat]:
    return session.seats.select_related("seat").order_by("seat__row", "seat__number")


def seat_map(session: Session) -> list[SeatMapEntry]:
    """Every seat of the session with its live status, in a constant number of queries."""
    return _seat_map(session)[0]


def _seat_map(session: Session) -> tuple[list[SeatMapEntry], datetime | None]:
    """The seat map and the moment it stops being true unless something is written: the
    earliest deadline of the holds it shows."""
    from apps.bookings.selectors import seat_statuses  # bookings builds on sessions

    statuses, next_expiry = seat_statuses(session)
    # Plain tuples, not model instances: a 1,000-seat map is read on every refresh of every buyer.
    rows = session_seats(session).values_list("id", "seat__label", "seat__row", "seat__number")
    entries = [
        SeatMapEntry(seat_id, label, row, number, statuses.get(seat_id, "available"))
        for seat_id, label, row, number in rows
    ]
    return entries, next_expiry


def seat_map_json(session_id: int) -> bytes | None:
    """The seat map as the API's JSON (None: no such session), from the cache while no write
    and no deadline has changed it (see seat_map_cache)."""
    cached = seat_map_cache.read(session_id)
    if cached.body is not None:
        return cached.body
    if not seat_map_cache.claim_build(session_id, cached):
        body = seat_map_cache.wait_for_build(session_id, cached)
        if body is not None:
            return body
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        seat_map_cache.end_build(session_id, cached)
        return None
    entries, next_expiry = _seat_map(session)
    body = JSONRenderer().render([vars(entry) for entry in entries])
    seat_map_cache.store(session_id, cached, body, valid_until=next_expiry)
    seat_map_cache.end_build(session_id, cached)
    return body
