"""The layout editor's input, read into seat positions, categories and labels.

The editor sends the whole grid in one field (JSON: one string of cells per row, see
`layout.cells_layout`), so a room of any size is one small request. Two text fields work without
the grid, from the keyboard: label lists ("wheelchair: A1, A2; blocked: C5-C8; aisle: A4-D4" is
not a range across rows: ranges stay in one row) and label overrides ("A1=VIP1, A2=VIP2"). Seats
are always named by row and number there, whatever label they show.
Errors are `InvalidInput` naming the form field a person fixes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from apps.core.errors import InvalidInput

from .layout import (
    AISLE,
    CATEGORY_CELLS,
    CELL_CATEGORIES,
    ROWS,
    SEAT_LABEL,
    SEAT_RANGE,
    SeatPosition,
    cells_layout,
    row_name,
)
from .models import Seat, SeatCategory

AISLE_WORD = "aisle"
LABEL_MAX_LENGTH = Seat._meta.get_field("label").max_length


@dataclass
class RoomLayout:
    positions: list[SeatPosition]
    categories: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def _split(text: str, separators: str) -> list[str]:
    for separator in separators[1:]:
        text = text.replace(separator, separators[0])
    return [part.strip() for part in text.split(separators[0]) if part.strip()]


def _cells(value: str, rows: int, seats_per_row: int) -> list[str]:
    """The grid the editor sent, or a grid of standard seats when it sent none (no script)."""
    if not value.strip():
        return [CATEGORY_CELLS[SeatCategory.STANDARD] * seats_per_row] * rows
    try:
        cells = json.loads(value)
    except ValueError:
        cells = None
    valid = set(CELL_CATEGORIES) | {AISLE}
    if not (
        isinstance(cells, list)
        and all(isinstance(line, str) and set(line) <= valid for line in cells)
    ):
        raise InvalidInput(_("The seat grid could not be read."), field="cells", code="bad_grid")
    if len(cells) != rows or any(len(line) != seats_per_row for line in cells):
        raise InvalidInput(
            _("The seat grid does not have %(rows)d rows of %(seats)d places.")
            % {"rows": rows, "seats": seats_per_row},
            field="cells",
            code="grid_size_mismatch",
        )
    return cells


def _category(name: str) -> str:
    """A category as typed: its code or its name in the page's language."""
    wanted = name.strip().lower()
    for category in SeatCategory:
        if wanted in (category.value, str(category.label).lower()):
            return category.value
    if wanted in (AISLE_WORD, _("aisle").lower()):
        return AISLE_WORD
    raise InvalidInput(
        _("Unknown category “%(name)s”: use %(choices)s.")
        % {"name": name.strip(), "choices": ", ".join([*SeatCategory.values, AISLE_WORD])},
        field="seat_lists",
        code="unknown_category",
    )


def _positions(item: str) -> list[SeatPosition]:
    """ "C5" or the range "C5-C8" (also "C5-8"), in one row."""
    text = item.upper().replace(" ", "")
    if single := SEAT_LABEL.match(text):
        return [SeatPosition(single[1], int(single[2]))]
    if span := SEAT_RANGE.match(text):
        first, last = sorted((int(span[2]), int(span[3])))
        return [SeatPosition(span[1], number) for number in range(first, last + 1)]
    raise InvalidInput(
        _("“%(label)s” is not a seat: write a row letter and a number, e.g. C5, or a range, C5-C8.")
        % {"label": item},
        field="seat_lists",
        code="bad_seat_label",
    )


def _outside_grid(positions: list[SeatPosition], places: set[SeatPosition]) -> None:
    missing = sorted({p for p in positions if p not in places})
    if missing:
        raise InvalidInput(
            _("Outside the grid: %(labels)s.") % {"labels": ", ".join(p.label for p in missing)},
            field="seat_lists",
            code="outside_grid",
        )


def _apply_lists(cells: list[list[str]], text: str) -> None:
    """Paint the grid with the label lists; a seat named in two lists is an error."""
    places = {
        SeatPosition(row_name(index), column)
        for index, line in enumerate(cells)
        for column in range(1, len(line) + 1)
    }
    named: list[tuple[SeatPosition, str]] = []
    for entry in _split(text, ";\n"):
        name, colon, items = entry.partition(":")
        if not colon or not items.strip():
            raise InvalidInput(
                _(
                    "Cannot read “%(entry)s”: write a category, a colon and seats, e.g. "
                    "“wheelchair: A1, A2”."
                )
                % {"entry": entry},
                field="seat_lists",
                code="unreadable_list",
            )
        category = _category(name)
        named += [(p, category) for item in _split(items, ", ") for p in _positions(item)]
    _outside_grid([position for position, _category in named], places)
    painted: dict[SeatPosition, str] = {}
    for position, category in named:
        if painted.get(position, category) != category:
            raise InvalidInput(
                _("Seat %(label)s is in two category lists.") % {"label": position.label},
                field="seat_lists",
                code="conflicting_categories",
            )
        painted[position] = category
    for position, category in painted.items():
        cell = AISLE if category == AISLE_WORD else CATEGORY_CELLS[category]
        cells[ROWS.index(position.row)][position.number - 1] = cell


def _labels(text: str, positions: list[SeatPosition]) -> dict[str, str]:
    seats = set(positions)
    labels: dict[str, str] = {}
    for entry in _split(text, ",;\n"):
        seat, equals, label = (part.strip() for part in entry.partition("="))
        if not equals or not seat or not label:
            raise InvalidInput(
                _(
                    "Cannot read “%(entry)s”: write a seat, an equals sign and its label, e.g. "
                    "“A1=VIP1”."
                )
                % {"entry": entry},
                field="labels",
                code="unreadable_label",
            )
        if len(label) > LABEL_MAX_LENGTH:
            raise InvalidInput(
                _("“%(label)s” is too long: a label has at most %(max)d characters.")
                % {"label": label, "max": LABEL_MAX_LENGTH},
                field="labels",
                code="label_too_long",
            )
        named = SEAT_LABEL.match(seat.upper())
        position = SeatPosition(named[1], int(named[2])) if named else None
        if position not in seats:
            raise InvalidInput(
                _("There is no seat %(seat)s to label: name a seat of the grid by row and number.")
                % {"seat": seat},
                field="labels",
                code="not_a_seat",
            )
        labels[position.label] = label
    return labels


def read_layout(
    *, rows: int, seats_per_row: int, cells: str, seat_lists: str = "", labels: str = ""
) -> RoomLayout:
    """The layout the editor's fields describe: the grid, then the label lists over it, then the
    label overrides of its seats."""
    grid_cells = [list(line) for line in _cells(cells, rows, seats_per_row)]
    _apply_lists(grid_cells, seat_lists)
    positions, categories = cells_layout(["".join(line) for line in grid_cells])
    return RoomLayout(positions, categories, _labels(labels, positions))
