"""Database lock waits: bounded, and recognisable when they run out."""

from __future__ import annotations

from django.db import OperationalError, connection

LOCK_NOT_AVAILABLE = "55P03"


def set_lock_timeout(seconds: float) -> None:
    """Bound every lock wait of the current transaction (pretix's 3 s rule)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])


def is_lock_timeout(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE
