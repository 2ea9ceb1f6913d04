"""Reads of reservations and of seat availability. A hold past `expires_at` reads as free."""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import NotFound
from apps.sessions.models import Session

from .models import Reservation, ReservationSeat


def _live(now) -> Q:
    """Active seats whose reservation is sold, or held and still within its deadline."""
    return Q(reservation__status=Reservation.Status.CONFIRMED) | Q(
        reservation__status=Reservation.Status.PENDING, reservation__expires_at__gt=now
    )


def seat_statuses(session: Session) -> dict[int, str]:
    """{session seat id: "held" | "sold"} for the taken seats of a session, in one query."""
    rows = (
        ReservationSeat.objects.filter(session_seat__session=session, is_active=True)
        .filter(_live(timezone.now()))
        .values_list("session_seat_id", "reservation__status")
    )
    return {
        seat_id: "sold" if status == Reservation.Status.CONFIRMED else "held"
        for seat_id, status in rows
    }


def effective_status(reservation: Reservation) -> str:
    if reservation.is_overdue(timezone.now()):
        return Reservation.Status.EXPIRED
    return reservation.status


def reservation_queryset() -> QuerySet[Reservation]:
    return Reservation.objects.prefetch_related(
        "seats__session_seat__seat",
    )


def reservation_for(*, reservation_id: uuid.UUID, user) -> Reservation:
    """The reservation if `user` owns it or is staff; 404 otherwise (never reveal others')."""
    reservation = reservation_queryset().filter(pk=reservation_id).first()
    if reservation is None or not (user.is_staff or reservation.user_id == user.id):
        raise NotFound(_("Reservation not found."))
    return reservation


def owned_reservation(*, reservation_id: uuid.UUID, user) -> Reservation:
    """The user's own reservation, with its seats; 404 for anyone else's."""
    reservation = reservation_queryset().filter(pk=reservation_id, user=user).first()
    if reservation is None:
        raise NotFound(_("Reservation not found."))
    return reservation
