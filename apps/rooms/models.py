from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.constraints import ConstraintErrorsAtFields


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    """The IANA zones this system knows. A callable, so that migrations name it rather than
    copy hundreds of zones (which would drift with each tzdata release)."""
    return [(name, name) for name in sorted(available_timezones())]


def default_time_zone() -> str:
    # Called, not copied into the migration: a deployment's TIME_ZONE is its own.
    return settings.TIME_ZONE


class Cinema(ConstraintErrorsAtFields, models.Model):
    name = models.CharField(_("name"), max_length=120)
    city = models.CharField(_("city"), max_length=120)
    # Stored times stay UTC; this is only how they are shown to, and read from, people.
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        choices=time_zone_choices,
        default=default_time_zone,
        help_text=_("Session times are shown and entered in this zone."),
    )

    constraint_fields = {
        "rooms_cinema_name_city_unique": "name",
    }

    class Meta:
        verbose_name = _("cinema")
        verbose_name_plural = _("cinemas")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "city"],
                name="rooms_cinema_name_city_unique",
                violation_error_code="cinema_exists",
                violation_error_message=_("A cinema with this name already exists in this city."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city})"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, value: datetime) -> datetime:
        """An instant as the cinema's clocks show it."""
        return timezone.localtime(value, self.zone)


class Room(ConstraintErrorsAtFields, models.Model):
    cinema = models.ForeignKey(
        Cinema, on_delete=models.PROTECT, related_name="rooms", verbose_name=_("cinema")
    )
    name = models.CharField(_("name"), max_length=120)

    constraint_fields = {
        "rooms_room_cinema_name_unique": "name",
    }

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cinema", "name"],
                name="rooms_room_cinema_name_unique",
                violation_error_code="room_exists",
                violation_error_message=_("This cinema already has a room with this name."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cinema.name} · {self.name}"


class SeatCategory(models.TextChoices):
    STANDARD = "standard", _("standard")
    WHEELCHAIR = "wheelchair", _("wheelchair space")
    COMPANION = "companion", _("companion seat")
    # Out of sale (broken, kept for the crew...): never reservable.
    BLOCKED = "blocked", _("blocked")


class Seat(ConstraintErrorsAtFields, models.Model):
    """A physical seat of a room's layout, e.g. row "C", number 7, label "C7"."""

    Category = SeatCategory

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="seats", verbose_name=_("room")
    )
    row = models.CharField(_("row"), max_length=3)
    number = models.PositiveSmallIntegerField(_("number"))
    label = models.CharField(_("label"), max_length=8)
    category = models.CharField(
        _("category"), max_length=10, choices=SeatCategory.choices, default=SeatCategory.STANDARD
    )

    constraint_fields = {
        "rooms_seat_room_label_unique": "label",
        "rooms_seat_position_unique": "number",
        "rooms_seat_number_positive": "number",
        "rooms_seat_category_valid": "category",
    }

    class Meta:
        verbose_name = _("seat")
        verbose_name_plural = _("seats")
        ordering = ["room_id", "row", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "label"],
                name="rooms_seat_room_label_unique",
                violation_error_code="seat_label_taken",
                violation_error_message=_("Seat labels must be unique within a room."),
            ),
            models.UniqueConstraint(
                fields=["room", "row", "number"],
                name="rooms_seat_position_unique",
                violation_error_code="seat_position_taken",
                violation_error_message=_(
                    "This room already has a seat with this number in this row."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(number__gt=0),
                name="rooms_seat_number_positive",
                violation_error_code="seat_number_not_positive",
                violation_error_message=_("Seat numbers start at 1."),
            ),
            models.CheckConstraint(
                condition=models.Q(category__in=SeatCategory.values),
                name="rooms_seat_category_valid",
                violation_error_code="seat_category_invalid",
                violation_error_message=_("Choose a valid seat category."),
            ),
        ]

    def __str__(self) -> str:
        return self.label
