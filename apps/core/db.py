"""Helpers every app's services use to write models safely."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import IntegrityError, models, transaction

from .errors import ApplicationError

M = TypeVar("M", bound=models.Model)


def validated_save(instance: M) -> M:
    """Validate fields and constraints in Python (clear 400s), then let the database decide."""
    instance.full_clean()
    instance.save()
    return instance


def constraint_name(error: IntegrityError) -> str | None:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


@contextmanager
def constraint_errors(
    mapping: dict[str, Callable[[], ApplicationError]], *, savepoint: bool = True
) -> Iterator[None]:
    """Turn a violation of a named database constraint into an application error.

    By default the block runs in a savepoint, so the caller's transaction stays usable; a caller
    whose whole transaction ends with the error anyway can spare the savepoint's round trips.
    Python checks run first for good messages; this is the race-proof last guard behind them.
    """
    try:
        with transaction.atomic(savepoint=savepoint):
            yield
    except IntegrityError as exc:
        factory = mapping.get(constraint_name(exc) or "")
        if factory is None:
            raise
        raise factory() from exc
