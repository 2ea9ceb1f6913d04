"""Writes of cinemas, rooms and seat layouts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from apps.core.db import validated_save
from apps.core.errors import InvalidInput

from .layout import SeatPosition, duplicates
from .models import Cinema, Room, Seat, SeatCategory


@transaction.atomic
def cinema_create(*, name: str, city: str) -> Cinema:
    return validated_save(Cinema(name=name, city=city))


@transaction.atomic
def cinema_update(*, cinema: Cinema, data: dict[str, Any]) -> Cinema:
    for field in ("name", "city"):
        if field in data:
            setattr(cinema, field, data[field])
    return validated_save(cinema)


def _check_categories(positions: list[SeatPosition], categories: Mapping[str, str]) -> None:
    unknown = sorted(set(categories) - {p.label for p in positions})
    if unknown:
        raise InvalidInput(
            _("These labels are not seats of the room: %(labels)s.")
            % {"labels": ", ".join(unknown)},
            field=categories[unknown[0]],
            code="unknown_seat_labels",
        )


@transaction.atomic
def room_create(
    *,
    cinema: Cinema,
    name: str,
    positions: list[SeatPosition],
    categories: Mapping[str, str] | None = None,
) -> Room:
    """Create a room and its seats in one transaction: a room never exists without its layout.
    `categories` maps seat labels to a category other than standard (wheelchair, companion,
    blocked)."""
    if not positions:
        raise InvalidInput(_("A room needs at least one seat."), field="seats", code="no_seats")
    repeated = duplicates(positions)
    if repeated:
        raise InvalidInput(
            _("Repeated seats: %(labels)s.") % {"labels": ", ".join(repeated)},
            field="seats",
            code="duplicate_seats",
        )
    categories = categories or {}
    _check_categories(positions, categories)
    room = validated_save(Room(cinema=cinema, name=name))
    Seat.objects.bulk_create(
        Seat(
            room=room,
            row=p.row,
            number=p.number,
            label=p.label,
            category=categories.get(p.label, SeatCategory.STANDARD),
        )
        for p in sorted(positions)
    )
    return room


@transaction.atomic
def room_rename(*, room: Room, name: str) -> Room:
    """Only the name changes: a layout is fixed once sessions may have copied it."""
    room.name = name
    return validated_save(room)
