"""Helpers every app's services use to write models safely."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

from django.db import IntegrityError, connection, models, transaction

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


def single_write() -> AbstractContextManager:
    """The scope of one write statement that may fail on a constraint: inside a transaction, a
    savepoint, so the transaction stays usable after the error; outside one, nothing, since the
    statement is then a transaction of its own (without BEGIN and COMMIT round trips)."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


@contextmanager
def constraint_errors(
    mapping: dict[str, Callable[[], ApplicationError]],
    *,
    savepoint: bool = True,
    single_statement: bool = False,
) -> Iterator[None]:
    """Turn a violation of a named database constraint into an application error.

    By default the block runs in a savepoint, so the caller's transaction stays usable; a caller
    whose whole transaction ends with the error anyway can spare the savepoint's round trips, and
    a block of one statement needs no transaction of its own outside one (`single_write`).
    Python checks run first for good messages; this is the race-proof last guard behind them.
    """
    scope = single_write() if single_statement else transaction.atomic(savepoint=savepoint)
    try:
        with scope:
            yield
    except IntegrityError as exc:
        factory = mapping.get(constraint_name(exc) or "")
        if factory is None:
            raise
        raise factory() from exc


def log_on_commit(log: Any, event: str, *, level: str = "info", **fields: Any) -> None:
    """Log a decision once its transaction commits (at once outside one), so that a log line
    never describes a change that was rolled back."""
    transaction.on_commit(lambda: getattr(log, level)(event, **fields))


def from_row(model: type[M], **values: Any) -> M:
    """An instance as the ORM builds one from a row it read (`Model.from_db`), from the values
    of a statement of our own: saving it updates, and a field not given is deferred (read on
    first access), never a silent None."""
    known = {field.attname for field in model._meta.concrete_fields}
    unknown = set(values) - known
    if unknown:
        raise TypeError(f"{model.__name__} has no fields {sorted(unknown)}")
    # from_db takes the values in the model's field order.
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])
