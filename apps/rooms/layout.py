"""Seat layouts: pure functions that turn a room description into seat positions."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

MAX_ROWS = 26
MAX_SEATS_PER_ROW = 60
ROW_PATTERN = re.compile(r"^[A-Z]{1,3}$")
# The rows of a grid, front to back.
ROWS = string.ascii_uppercase[:MAX_ROWS]


@dataclass(frozen=True, order=True)
class SeatPosition:
    row: str
    number: int

    @property
    def label(self) -> str:
        return f"{self.row}{self.number}"


def grid(rows: int, seats_per_row: int) -> list[SeatPosition]:
    """Rows A, B, C... each with seats numbered from 1: A1..A{n}, B1..."""
    letters = ROWS[:rows]
    return [SeatPosition(row, number) for row in letters for number in range(1, seats_per_row + 1)]


def duplicates(positions: list[SeatPosition]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for position in positions:
        if position.label in seen and position.label not in repeated:
            repeated.append(position.label)
        seen.add(position.label)
    return repeated


# A grid as the layout editor sends it: one string per row, one character per place.
AISLE = "."
STANDARD = "s"
CELL_CATEGORIES = {"s": "standard", "w": "wheelchair", "c": "companion", "b": "blocked"}
CATEGORY_CELLS = {category: cell for cell, category in CELL_CATEGORIES.items()}
SEAT_LABEL = re.compile(r"^([A-Z])(\d{1,2})$")
SEAT_RANGE = re.compile(r"^([A-Z])(\d{1,2})-\1?(\d{1,2})$")


def row_name(index: int) -> str:
    return ROWS[index]


def cells_layout(cells: list[str]) -> tuple[list[SeatPosition], dict[str, str]]:
    """Seat positions and non-standard categories of a grid of cells. A seat's number is its
    column, so an aisle leaves a gap in the numbers (A3, A5) and the grid can be drawn again
    from the seats alone."""
    positions: list[SeatPosition] = []
    categories: dict[str, str] = {}
    for index, line in enumerate(cells):
        for column, cell in enumerate(line, start=1):
            if cell == AISLE:
                continue
            position = SeatPosition(row_name(index), column)
            positions.append(position)
            if cell != STANDARD:
                categories[position.label] = CELL_CATEGORIES[cell]
    return positions, categories


def seat_cells(
    seats: list[tuple[str, int, str, str]],
) -> tuple[int, int, list[str], dict[str, str]] | None:
    """The grid of a room's seats (row, number, label, category): rows, seats per row, cells and
    the labels that differ from row plus number. None when the seats do not fit a grid of
    MAX_ROWS x MAX_SEATS_PER_ROW (a layout made through the API with rows such as "AA")."""
    if not seats or any(
        not SEAT_LABEL.match(f"{row}{number}") or number > MAX_SEATS_PER_ROW
        for row, number, _, _ in seats
    ):
        return None
    rows = max(ROWS.index(row) for row, _, _, _ in seats) + 1
    width = max(number for _, number, _, _ in seats)
    grid_cells = [[AISLE] * width for _ in range(rows)]
    labels: dict[str, str] = {}
    for row, number, label, category in seats:
        grid_cells[ROWS.index(row)][number - 1] = CATEGORY_CELLS[category]
        if label != f"{row}{number}":
            labels[f"{row}{number}"] = label
    return rows, width, ["".join(line) for line in grid_cells], labels
