"""Writes of cinemas, rooms and seat layouts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from apps.core.db import constraint_errors, validated_save
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
    invalid = sorted(set(categories.values()) - set(SeatCategory.values))
    if invalid:
        raise InvalidInput(
            _("Unknown seat categories: %(categories)s.") % {"categories": ", ".join(invalid)},
            field="categories",
            code="unknown_category",
        )


def _check_labels(positions: list[SeatPosition], labels: Mapping[str, str]) -> None:
    """Overridden labels name seats of the room, and no label is shown by two seats (the
    unique constraint would refuse it; this says which)."""
    unknown = sorted(set(labels) - {p.label for p in positions})
    if unknown:
        raise InvalidInput(
            _("These labels are not seats of the room: %(labels)s.")
            % {"labels": ", ".join(unknown)},
            field="labels",
            code="unknown_seat_labels",
        )
    shown = Counter(labels.get(p.label, p.label) for p in positions)
    repeated = sorted(label for label, count in shown.items() if count > 1)
    if repeated:
        raise InvalidInput(
            _("Labels shown by two seats: %(labels)s.") % {"labels": ", ".join(repeated)},
            field="labels",
            code="seat_label_taken",
        )


def room_layout_check(
    *,
    positions: list[SeatPosition],
    categories: Mapping[str, str],
    labels: Mapping[str, str],
    fixed_room: Room | None = None,
) -> None:
    """The rules every layout follows, for a new room or a changed one; `fixed_room` is a room
    whose seats sessions sell, so only their categories may change. A form calls it to show
    errors at their fields before saving; the services call it again."""
    if not positions:
        raise InvalidInput(_("A room needs at least one seat."), field="seats", code="no_seats")
    repeated = duplicates(positions)
    if repeated:
        raise InvalidInput(
            _("Repeated seats: %(labels)s.") % {"labels": ", ".join(repeated)},
            field="seats",
            code="duplicate_seats",
        )
    _check_categories(positions, categories)
    _check_labels(positions, labels)
    if fixed_room is not None and _moved_seats(fixed_room, positions, labels)[1]:
        raise _layout_fixed_error()


def _moved_seats(
    room: Room, positions: list[SeatPosition], labels: Mapping[str, str]
) -> tuple[dict[SeatPosition, Seat], set[SeatPosition]]:
    """The room's seats by position, and the positions whose seat goes away, is added or shows
    another label."""
    current = {SeatPosition(seat.row, seat.number): seat for seat in room.seats.all()}
    wanted = {p: labels.get(p.label, p.label) for p in positions}
    moved = {p for p, seat in current.items() if wanted.get(p) != seat.label}
    return current, moved | (set(wanted) - set(current))


# The last guard behind room_layout_check, for two saves racing.
SEAT_CONSTRAINT_ERRORS = {
    "rooms_seat_room_label_unique": lambda: InvalidInput(
        _("Seat labels must be unique within a room."), field="labels", code="seat_label_taken"
    ),
}


def _new_seats(
    room: Room,
    positions: Iterable[SeatPosition],
    categories: Mapping[str, str],
    labels: Mapping[str, str],
) -> list[Seat]:
    return Seat.objects.bulk_create(
        Seat(
            room=room,
            row=p.row,
            number=p.number,
            label=labels.get(p.label, p.label),
            category=categories.get(p.label, SeatCategory.STANDARD),
        )
        for p in sorted(positions)
    )


@transaction.atomic
def room_create(
    *,
    cinema: Cinema,
    name: str,
    positions: list[SeatPosition],
    categories: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Room:
    """Create a room and its seats in one transaction: a room never exists without its layout.
    `categories` maps seat labels to a category other than standard (wheelchair, companion,
    blocked); `labels` maps a seat's row-and-number label to the one it shows instead."""
    categories, labels = categories or {}, labels or {}
    room_layout_check(positions=positions, categories=categories, labels=labels)
    room = validated_save(Room(cinema=cinema, name=name))
    with constraint_errors(SEAT_CONSTRAINT_ERRORS, savepoint=False):
        _new_seats(room, positions, categories, labels)
    return room


def _layout_fixed_error() -> InvalidInput:
    return InvalidInput(
        _(
            "This room has sessions, which sell its seats: seats can no longer be added, "
            "removed or relabelled. Only their categories can change."
        ),
        field="seats",
        code="layout_fixed",
    )


@transaction.atomic
def room_layout_update(
    *,
    room: Room,
    positions: list[SeatPosition],
    categories: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    layout_fixed: bool,
) -> Room:
    """Give a room a new layout. A category changed applies to sessions scheduled afterwards:
    each session keeps the categories it copied. Once sessions exist (`layout_fixed`, which the
    caller knows: rooms do not), seats are neither added, removed nor relabelled, since sessions
    and their tickets name them; then only categories change."""
    categories, labels = categories or {}, labels or {}
    # FOR UPDATE conflicts with the FOR NO KEY UPDATE a session takes on its room when it is
    # scheduled: no session copies the seats while they change.
    Room.objects.select_for_update().get(pk=room.pk)
    room_layout_check(
        positions=positions,
        categories=categories,
        labels=labels,
        fixed_room=room if layout_fixed else None,
    )
    current, moved = _moved_seats(room, positions, labels)
    recategorised = []
    for position, seat in current.items():
        category = categories.get(position.label, SeatCategory.STANDARD)
        if position not in moved and seat.category != category:
            seat.category = category
            recategorised.append(seat)
    Seat.objects.bulk_update(recategorised, ["category"])
    # A seat gone or relabelled is made again: labels swapped between two seats would break the
    # unique label constraint halfway through an update in place.
    try:
        Seat.objects.filter(pk__in=[current[p].pk for p in moved if p in current]).delete()
    except ProtectedError as error:
        # A session scheduled since the caller looked: its seats stay.
        raise _layout_fixed_error() from error
    with constraint_errors(SEAT_CONSTRAINT_ERRORS, savepoint=False):
        _new_seats(room, [p for p in positions if p in moved], categories, labels)
    return room


@transaction.atomic
def room_rename(*, room: Room, name: str) -> Room:
    """The API renames a room and no more; the admin's layout editor changes the seats too
    (`room_layout_update`), by the rules of a layout that sessions may have copied."""
    room.name = name
    return validated_save(room)
