"""Database lock waits: bounded, and answered as a retryable conflict naming what was busy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection
from django.utils.translation import gettext_lazy as _

from .errors import Conflict

LOCK_NOT_AVAILABLE = "55P03"


class Busy(Conflict):
    """A lock wait ran out: someone else is changing the same thing right now. Retry at once."""

    code = "busy"
    retryable = True
    default_detail = _("This is being changed by someone else right now. Try again.")

    def __init__(self, detail=None, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"Retry-After": "1"})


def set_lock_timeout(seconds: float) -> None:
    """Bound every lock wait of the current transaction (pretix's 3 s rule)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])


def is_lock_timeout(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and (
        getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE
    )


@contextmanager
def busy_as(error: type[Busy] | Busy) -> Iterator[None]:
    """Turn a lock wait that ran out inside the block into `error` (a 409 with Retry-After
    whose code names what was busy); any other database error goes on as it was."""
    try:
        yield
    except OperationalError as exc:
        if is_lock_timeout(exc):
            raise (error() if isinstance(error, type) else error) from exc
        raise
