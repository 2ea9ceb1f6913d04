"""Reads of reservations and of seat availability. A hold past `expires_at` reads as free."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.api.permissions import user_has_perms
from apps.core.db import from_row
from apps.core.errors import NotFound
from apps.core.prefetch import attach_prefetched
from apps.rooms.models import Seat
from apps.sessions import pricing
from apps.sessions.models import Session, SessionSeat

from .models import RESERVATION_COLUMNS, Reservation, ReservationSeat, reservation_from_row


def _live(now) -> Q:
    """Active seats whose reservation is sold, or held and still within its deadline."""
    return Q(reservation__status=Reservation.Status.CONFIRMED) | Q(
        reservation__status=Reservation.Status.PENDING, reservation__expires_at__gt=now
    )


def seat_statuses(session: Session) -> tuple[dict[int, str], datetime | None]:
    """{session seat id: "held" | "sold"} for the taken seats of a session, in one query, and
    the earliest deadline of the holds among them: until then (or another write) the answer
    stays true."""
    rows = (
        ReservationSeat.objects.filter(session_seat__session=session, is_active=True)
        .filter(_live(timezone.now()))
        .values_list("session_seat_id", "reservation__status", "reservation__expires_at")
    )
    statuses: dict[int, str] = {}
    next_expiry: datetime | None = None
    for seat_id, status, expires_at in rows:
        if status == Reservation.Status.CONFIRMED:
            statuses[seat_id] = "sold"
        else:
            statuses[seat_id] = "held"
            next_expiry = expires_at if next_expiry is None else min(next_expiry, expires_at)
    return statuses, next_expiry


# Runs inside every reservation transaction: one statement, without the ORM's query compiler.
_ACTIVE_HOLDS_SQL = """
SELECT rs.session_seat_id, r.id, r.status, r.expires_at
FROM {reservation_seat} rs
JOIN {reservation} r ON r.id = rs.reservation_id
WHERE rs.session_seat_id = ANY(%s) AND rs.is_active
"""


def active_holds_on(seat_ids: list[int]) -> list[ReservationSeat]:
    """The active reserved seats among these session seats, each with its reservation's id,
    status and deadline (enough for `Reservation.is_overdue`)."""
    sql = _ACTIVE_HOLDS_SQL.format(
        reservation_seat=ReservationSeat._meta.db_table, reservation=Reservation._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(seat_ids)])
        rows = cursor.fetchall()
    return [
        ReservationSeat(
            session_seat_id=seat_id,
            reservation=Reservation(id=reservation_id, status=status, expires_at=expires_at),
        )
        for seat_id, reservation_id, status, expires_at in rows
    ]


# Live half-price seats only: a hold past its deadline gives its place back at once.
_HALF_PRICE_SQL = """
SELECT
  (SELECT count(*) FROM {session_seat} WHERE session_id = %(session)s AND category <> 'blocked'),
  (SELECT count(*)
   FROM {session_seat} ss
   JOIN {reservation_seat} rs ON rs.session_seat_id = ss.id
   JOIN {reservation} r ON r.id = rs.reservation_id
   WHERE ss.session_id = %(session)s AND rs.is_active AND rs.ticket_type = 'half'
     AND (r.status <> 'pending' OR r.expires_at > %(now)s))
"""


def half_price_places(session_id: int, now: datetime) -> tuple[int, int]:
    """How many seats of the session may be half price at once, and how many are held or sold
    as half price right now."""
    sql = _HALF_PRICE_SQL.format(
        session_seat=SessionSeat._meta.db_table,
        reservation_seat=ReservationSeat._meta.db_table,
        reservation=Reservation._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"session": session_id, "now": now})
        sellable, taken = cursor.fetchone()
    places = pricing.half_price_places(sellable_seats=sellable, share=settings.HALF_PRICE_SHARE)
    return places, taken


def session_ever_held(session_id: int) -> bool:
    """Whether anyone has held seats of the session, whatever became of the hold: from then on
    buyers count on its time, room and price."""
    return Reservation.objects.filter(session_id=session_id).exists()


def effective_status(reservation: Reservation) -> str:
    if reservation.is_overdue(timezone.now()):
        return Reservation.Status.EXPIRED
    return reservation.status


def reservation_queryset() -> QuerySet[Reservation]:
    """Reservations with their seats and labels: two queries, whatever the number of seats."""
    return Reservation.objects.prefetch_related(
        Prefetch("seats", queryset=ReservationSeat.objects.select_related("session_seat__seat"))
    )


def reservation_for(*, reservation_id: uuid.UUID, user) -> Reservation:
    """The reservation if `user` owns it or may view anyone's; 404 otherwise (never reveal
    others')."""
    reservation = reservation_queryset().filter(pk=reservation_id).first()
    if reservation is None or not (
        reservation.user_id == user.id or user_has_perms(user, "bookings.view_reservation")
    ):
        raise NotFound(_("Reservation not found."))
    return reservation


def reserved_seat(
    reservation: Reservation, session_seat: SessionSeat, **values: Any
) -> ReservationSeat:
    """A reservation's seat from the values of a statement of our own, pointing at the
    reservation and session seat the caller holds (`from_row`)."""
    seat = from_row(
        ReservationSeat,
        reservation_id=reservation.id,
        session_seat_id=session_seat.id,
        **values,
    )
    seat.reservation = reservation
    seat.session_seat = session_seat
    return seat


# The reservation a payment reads, with its seats, their labels and the session's status, in one
# statement: the ORM's prefetch took two queries (and a third for the session), each compiled on
# every payment.
_OWNED_RESERVATION_SQL = """
SELECT {columns}, s.status,
       rs.id, rs.session_seat_id, rs.ticket_type, rs.price, rs.is_active,
       ss.seat_id, seat.label, seat.row, seat.number
FROM {reservation} r
JOIN {session} s ON s.id = r.session_id
LEFT JOIN {reservation_seat} rs ON rs.reservation_id = r.id
LEFT JOIN {session_seat} ss ON ss.id = rs.session_seat_id
LEFT JOIN {seat} seat ON seat.id = ss.seat_id
WHERE r.id = %s AND r.user_id = %s
ORDER BY rs.session_seat_id
"""


def owned_reservation(*, reservation_id: uuid.UUID, user) -> Reservation:
    """The user's own reservation, with its seats (as `reservation_queryset` prefetches them),
    its user and its session (the status as it is now; other fields read on first use); 404 for
    anyone else's."""
    sql = _OWNED_RESERVATION_SQL.format(
        columns=", ".join(f"r.{column}" for column in RESERVATION_COLUMNS),
        reservation=Reservation._meta.db_table,
        session=Session._meta.db_table,
        reservation_seat=ReservationSeat._meta.db_table,
        session_seat=SessionSeat._meta.db_table,
        seat=Seat._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [reservation_id, user.id])
        rows = cursor.fetchall()
    if not rows:
        raise NotFound(_("Reservation not found."))
    columns = len(RESERVATION_COLUMNS)
    reservation = reservation_from_row(reservation_id, rows[0][:columns])
    session_id, session_status = reservation.session_id, rows[0][columns]
    reservation.user = user
    reservation.session = from_row(Session, id=session_id, status=session_status)
    seats = []
    for row in rows:
        # After the reservation and the session's status: the seat's columns, in the order of
        # _OWNED_RESERVATION_SQL.
        seat_row_id, session_seat_id, ticket_type, price, is_active, *room_seat = row[columns + 1 :]
        seat_id, label, seat_row, seat_number = room_seat
        if seat_row_id is None:
            continue  # a reservation without seats (none is ever written, but the join allows it)
        session_seat = from_row(
            SessionSeat, id=session_seat_id, session_id=session_id, seat_id=seat_id
        )
        session_seat.seat = from_row(
            Seat, id=seat_id, label=label, row=seat_row, number=seat_number
        )
        seats.append(
            reserved_seat(
                reservation,
                session_seat,
                id=seat_row_id,
                ticket_type=ticket_type,
                price=price,
                is_active=is_active,
            )
        )
    attach_prefetched(reservation, "seats", seats)
    return reservation
