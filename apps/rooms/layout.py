"""Seat layouts: pure functions that turn a room description into seat positions."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

MAX_ROWS = 26
MAX_SEATS_PER_ROW = 60
ROW_PATTERN = re.compile(r"^[A-Z]{1,3}$")


@dataclass(frozen=True, order=True)
class SeatPosition:
    row: str
    number: int

    @property
    def label(self) -> str:
        return f"{self.row}{self.number}"


def grid(rows: int, seats_per_row: int) -> list[SeatPosition]:
    """Rows A, B, C... each with seats numbered from 1: A1..A{n}, B1..."""
    letters = string.ascii_uppercase[:rows]
    return [SeatPosition(row, number) for row in letters for number in range(1, seats_per_row + 1)]


def duplicates(positions: list[SeatPosition]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for position in positions:
        if position.label in seen and position.label not in repeated:
            repeated.append(position.label)
        seen.add(position.label)
    return repeated
