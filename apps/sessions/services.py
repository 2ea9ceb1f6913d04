"""Writes of sessions (screenings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.catalog.models import Movie
from apps.core.db import constraint_errors
from apps.core.errors import Conflict, InvalidInput
from apps.events import outbox
from apps.rooms import selectors as room_selectors
from apps.rooms.models import Room
from apps.sessions import event_types as session_events

from .models import Session, SessionSeat
from .selectors import overlapping_sessions

OVERLAP_CONSTRAINT = "screenings_session_no_overlap"
# PostgreSQL stores instants past the year 9999 but Python cannot read them back: one session
# ending there broke every list that showed it (500s). Nothing is scheduled that far ahead.
LATEST_START = datetime(9999, 1, 1, tzinfo=UTC)


def _overlap_error() -> InvalidInput:
    return InvalidInput(
        _("The room already has a session at that time."), field="starts_at", code="session_overlap"
    )


def session_validate(
    *, movie: Movie, room: Room, starts_at: datetime, excluding: Session | None = None
) -> datetime:
    """Check the business rules of a new session, or of one being corrected (`excluding`: it
    does not overlap itself); returns its end."""
    if starts_at <= timezone.now():
        raise InvalidInput(
            _("A session cannot start in the past."), field="starts_at", code="session_in_past"
        )
    if starts_at >= LATEST_START:
        raise InvalidInput(
            _("A session must start before the year 9999."),
            field="starts_at",
            code="session_too_late",
        )
    seat_count = room_selectors.room_sellable_seat_count(room)
    if seat_count < settings.MIN_SEATS_PER_SESSION:
        raise InvalidInput(
            _("The room has %(count)d seats for sale; a session needs at least %(min)d.")
            % {"count": seat_count, "min": settings.MIN_SEATS_PER_SESSION},
            field="room",
            code="too_few_seats",
        )
    ends_at = starts_at + timedelta(minutes=movie.duration_minutes)
    others = overlapping_sessions(room=room, starts_at=starts_at, ends_at=ends_at)
    if excluding is not None:
        others = others.exclude(pk=excluding.pk)
    if others.exists():
        raise _overlap_error()
    return ends_at


@transaction.atomic
def session_create(*, movie: Movie, room: Room, starts_at: datetime, price: Decimal) -> Session:
    """Schedule a session and give it its own copy of the room's seats."""
    # One scheduler per room at a time. Two conflicting inserts racing into the exclusion
    # constraint can deadlock in PostgreSQL (a 500 for the loser); with the room row locked the
    # loser waits, then sees the winner's session and gets a clean `session_overlap`.
    Room.objects.select_for_update(no_key=True).get(pk=room.pk)
    ends_at = session_validate(movie=movie, room=room, starts_at=starts_at)
    session = Session(movie=movie, room=room, starts_at=starts_at, ends_at=ends_at, price=price)
    # The exclusion constraint settles the race between two staff members booking the room.
    with constraint_errors({OVERLAP_CONSTRAINT: _overlap_error}):
        session.save()
    _copy_seats(session, room)
    return session


def _copy_seats(session: Session, room: Room) -> None:
    SessionSeat.objects.bulk_create(
        SessionSeat(session=session, seat=seat, category=seat.category)
        for seat in room_selectors.room_seats(room)
    )


def session_lock(*, session_id: int) -> Session:
    """The session row, locked FOR UPDATE until the caller's transaction ends. A hold being made
    holds a KEY SHARE lock on it (its reservation row refers to the session): that hold commits
    first, and new ones wait for the caller."""
    return Session.objects.select_for_update().get(pk=session_id)


@transaction.atomic
def session_update(
    *, session: Session, movie: Movie, room: Room, starts_at: datetime, price: Decimal
) -> Session:
    """Correct a scheduled session by the rules of a new one (future start, enough seats, the
    room free then). Moved to another room, it gets that room's seats. Only for a session nobody
    has held seats of: the caller checks that under `session_lock`."""
    # The room is locked as session_create locks it, so that a session scheduled at the same
    # moment and this one see each other. (After session_lock: session_create never waits for
    # an existing session's row, so the two orders cannot deadlock.)
    Room.objects.select_for_update(no_key=True).get(pk=room.pk)
    session = session_lock(session_id=session.pk)
    if session.status == Session.Status.CANCELLED:
        raise Conflict(_("The session is already cancelled."), code="session_cancelled")
    ends_at = session_validate(movie=movie, room=room, starts_at=starts_at, excluding=session)
    moved = session.room_id != room.pk
    session.movie, session.room, session.price = movie, room, price
    session.starts_at, session.ends_at = starts_at, ends_at
    with constraint_errors({OVERLAP_CONSTRAINT: _overlap_error}):
        session.save(update_fields=["movie", "room", "starts_at", "ends_at", "price"])
    if moved:
        session.seats.all().delete()
        _copy_seats(session, room)
    return session


@transaction.atomic
def session_cancel(*, session: Session) -> Session:
    session = session_lock(session_id=session.pk)
    if session.status == Session.Status.CANCELLED:
        raise Conflict(_("The session is already cancelled."), code="session_cancelled")
    session.status = Session.Status.CANCELLED
    session.save(update_fields=["status"])
    outbox.emit(outbox.Event(session_events.SESSION_CANCELLED, {"session_id": session.id}))
    return session
