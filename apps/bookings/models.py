import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.constraints import ConstraintErrorsAtFields
from apps.core.db import from_row
from apps.sessions.models import Session, SessionSeat
from apps.sessions.pricing import TicketType

ONE_ACTIVE_HOLD_PER_SEAT = "bookings_one_active_hold_per_seat"
# Raised by a trigger (migration 0004): a blocked seat is never held, whatever the code does.
SEAT_NOT_BLOCKED = "bookings_seat_not_blocked"


class Reservation(ConstraintErrorsAtFields, models.Model):
    """A hold on some seats of a session until `expires_at`, then sold, cancelled or expired
    (and a sale may later be refunded).

    `expires_at` is the truth: a pending reservation past it is free for everyone at once; the
    status turns `expired` when a worker (or the next reservation of its seats) tidies it up.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        CONFIRMED = "confirmed", _("confirmed")
        CANCELLED = "cancelled", _("cancelled")
        EXPIRED = "expired", _("expired")
        REFUNDED = "refunded", _("refunded")  # sold, then the sale was refunded

    id = models.UUIDField(_("id"), primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reservations",
        verbose_name=_("user"),
    )
    session = models.ForeignKey(
        Session, on_delete=models.PROTECT, related_name="reservations", verbose_name=_("session")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    expires_at = models.DateTimeField(_("expires at"))
    total = models.DecimalField(_("total"), max_digits=10, decimal_places=2)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # A payment that settles later extends the hold once; this says it happened.
    extended_at = models.DateTimeField(_("extended at"), null=True, blank=True)

    constraint_fields = {
        "bookings_total_not_negative": "total",
    }

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        ordering = ["-created_at"]
        indexes = [
            # The sweeper's scan: pending holds by deadline.
            models.Index(
                fields=["expires_at"],
                condition=Q(status="pending"),
                name="bookings_pending_by_deadline",
            ),
            models.Index(fields=["user", "-created_at"], name="bookings_user_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0),
                name="bookings_total_not_negative",
                violation_error_code="total_negative",
                violation_error_message=_("A total cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)

    def is_overdue(self, now: datetime) -> bool:
        """Pending but past its deadline: free for everyone, whether or not it was swept yet."""
        return self.status == self.Status.PENDING and self.expires_at <= now


class ReservationSeat(ConstraintErrorsAtFields, models.Model):
    """One seat of a reservation. `is_active` while the reservation is pending or confirmed.

    The partial unique index is invariant 1 in PostgreSQL: a session seat has at most one active
    hold or sale, whatever the Python code does.
    """

    reservation = models.ForeignKey(
        Reservation, on_delete=models.CASCADE, related_name="seats", verbose_name=_("reservation")
    )
    session_seat = models.ForeignKey(
        SessionSeat, on_delete=models.PROTECT, related_name="+", verbose_name=_("seat")
    )
    # The type and its price are fixed when the seat is held: a price change later does not
    # change what this buyer pays.
    ticket_type = models.CharField(
        _("ticket type"), max_length=4, choices=TicketType.choices, default=TicketType.FULL
    )
    price = models.DecimalField(_("price"), max_digits=8, decimal_places=2)
    is_active = models.BooleanField(_("active"), default=True)

    constraint_fields = {
        ONE_ACTIVE_HOLD_PER_SEAT: "session_seat",
        "bookings_seat_once_per_reservation": "session_seat",
        "bookings_reservationseat_ticket_type_valid": "ticket_type",
    }

    class Meta:
        verbose_name = _("reserved seat")
        verbose_name_plural = _("reserved seats")
        ordering = ["session_seat_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session_seat"],
                condition=Q(is_active=True),
                name=ONE_ACTIVE_HOLD_PER_SEAT,
                violation_error_code="seats_unavailable",
                violation_error_message=_("This seat is already held or sold."),
            ),
            models.UniqueConstraint(
                fields=["reservation", "session_seat"],
                name="bookings_seat_once_per_reservation",
                violation_error_code="duplicate_seats",
                violation_error_message=_("A seat is listed twice."),
            ),
            models.CheckConstraint(
                condition=Q(ticket_type__in=TicketType.values),
                name="bookings_reservationseat_ticket_type_valid",
                violation_error_code="ticket_type_invalid",
                violation_error_message=_("Choose a valid ticket type."),
            ),
        ]
        indexes = [
            # The half-price count of a session: its active half-price seats.
            models.Index(
                fields=["session_seat"],
                condition=Q(is_active=True, ticket_type="half"),
                name="bookings_active_half_price",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reservation_id}:{self.session_seat_id}"


# A reservation's columns after its id, in the order the plain statements of locks.py and
# selectors.py read them.
RESERVATION_COLUMNS = (
    "user_id",
    "session_id",
    "status",
    "expires_at",
    "total",
    "created_at",
    "closed_at",
    "extended_at",
)


def reservation_from_row(reservation_id: uuid.UUID, values: Sequence[Any]) -> Reservation:
    """A reservation from the values of `RESERVATION_COLUMNS`, as the ORM builds a row it read."""
    return from_row(
        Reservation, id=reservation_id, **dict(zip(RESERVATION_COLUMNS, values, strict=True))
    )
