from datetime import datetime
from decimal import Decimal

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import models
from django.db.models import Func, Q
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Movie
from apps.core.constraints import ConstraintErrorsAtFields
from apps.rooms.models import Room, Seat, SeatCategory

from . import pricing


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = models.DateTimeField()


class Session(ConstraintErrorsAtFields, models.Model):
    """A screening of a movie in a room. It occupies the room from `starts_at` to `ends_at`."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        CANCELLED = "cancelled", _("cancelled")

    movie = models.ForeignKey(
        Movie, on_delete=models.PROTECT, related_name="sessions", verbose_name=_("movie")
    )
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, related_name="sessions", verbose_name=_("room")
    )
    starts_at = models.DateTimeField(_("starts at"), db_index=True)
    ends_at = models.DateTimeField(_("ends at"))
    price = models.DecimalField(_("price"), max_digits=8, decimal_places=2)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    constraint_fields = {
        "screenings_session_price_positive": "price",
        "screenings_session_ends_after_start": "starts_at",
        "screenings_session_no_overlap": "starts_at",
    }

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["starts_at", "id"]
        permissions = [("cancel_session", _("Can cancel a session and refund its sales"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gt=0),
                name="screenings_session_price_positive",
                violation_error_code="price_not_positive",
                violation_error_message=_("The price must be greater than zero."),
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="screenings_session_ends_after_start",
                violation_error_code="session_ends_before_start",
                violation_error_message=_("A session must end after it starts."),
            ),
            # Two scheduled sessions never share a room at the same time, whatever the code does.
            ExclusionConstraint(
                name="screenings_session_no_overlap",
                expressions=[
                    (
                        TsTzRange("starts_at", "ends_at", models.Value("[)")),
                        RangeOperators.OVERLAPS,
                    ),
                    ("room", RangeOperators.EQUAL),
                ],
                condition=Q(status="scheduled"),
                violation_error_code="session_overlap",
                violation_error_message=_("The room already has a session at that time."),
            ),
        ]

    def __str__(self) -> str:
        # Page titles, breadcrumbs, filters and messages name a session by this: in the cinema's
        # time, the one on its tickets and posters.
        return f"{self.movie} · {self.room} · {self.local_starts_at:%Y-%m-%d %H:%M}"

    @property
    def local_starts_at(self) -> datetime:
        return self.room.cinema.local(self.starts_at)

    @property
    def local_ends_at(self) -> datetime:
        return self.room.cinema.local(self.ends_at)

    @property
    def prices(self) -> dict[str, Decimal]:
        """What each ticket type costs: `{"full": price, "half": half of it}`."""
        return pricing.prices(self.price)


class SessionSeat(ConstraintErrorsAtFields, models.Model):
    """A seat of one session: what gets held and sold. Copied from the room with the session."""

    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, related_name="seats", verbose_name=_("session")
    )
    seat = models.ForeignKey(
        Seat, on_delete=models.PROTECT, related_name="+", verbose_name=_("seat")
    )
    # Copied from the room's seat when the session is made: a layout change later does not move
    # the seats of sessions already on sale.
    category = models.CharField(
        _("category"), max_length=10, choices=SeatCategory.choices, default=SeatCategory.STANDARD
    )

    constraint_fields = {
        "screenings_sessionseat_unique": "seat",
        "screenings_sessionseat_category_valid": "category",
    }

    class Meta:
        verbose_name = _("session seat")
        verbose_name_plural = _("session seats")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "seat"],
                name="screenings_sessionseat_unique",
                violation_error_code="session_seat_taken",
                violation_error_message=_("This seat is already part of the session."),
            ),
            models.CheckConstraint(
                condition=Q(category__in=SeatCategory.values),
                name="screenings_sessionseat_category_valid",
                violation_error_code="seat_category_invalid",
                violation_error_message=_("Choose a valid seat category."),
            ),
        ]

    def __str__(self) -> str:
        # Movie · cinema · room · local start · seat: what a ticket says.
        return f"{self.session} · {self.seat.label}"
