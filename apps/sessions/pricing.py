"""Ticket types and what each costs: full price, and half price (meia-entrada) for the buyers the
law entitles to it."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from math import floor

from django.db import models
from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")


class TicketType(models.TextChoices):
    FULL = "full", _("full price")
    HALF = "half", _("half price")


def half_price(price: Decimal) -> Decimal:
    """Half of the full price, rounded down to the cent: the buyer never pays more than half."""
    return (price / 2).quantize(CENT, rounding=ROUND_DOWN)


def prices(price: Decimal) -> dict[str, Decimal]:
    return {TicketType.FULL: price, TicketType.HALF: half_price(price)}


def half_price_places(*, sellable_seats: int, share: float) -> int:
    """How many seats of a session may be held or sold as half price at once."""
    return floor(sellable_seats * share + 1e-9)
