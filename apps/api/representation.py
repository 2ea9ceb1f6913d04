"""Values written the way the API's serializers write them, for bodies built directly.

Hot answers (a hold, a sale) are built as plain dicts, since a model serializer builds its fields
anew on every use; these keep their strings identical to DRF's: money with two decimals as a
string, timestamps in the current time zone.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rest_framework import serializers

# Used only to format (they hold no per-use state).
_TIMESTAMP = serializers.DateTimeField()
_MONEY = serializers.DecimalField(max_digits=10, decimal_places=2)


def money(value: Decimal) -> str:
    return _MONEY.to_representation(value)


def timestamp(value: datetime | None) -> str | None:
    return None if value is None else _TIMESTAMP.to_representation(value)
