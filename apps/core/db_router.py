"""Reads from a PostgreSQL read replica, where a view asks for them and it is safe.

With `DATABASE_REPLICA_URL` set, the settings add the database alias `replica` and this router.
A replica lags the primary by a moment, so nothing reads from it unless a read-only view runs its
read through `read_from_replica()` (the public catalogue does, see apps.api.replica). Inside it
the router answers `replica` for reads only

- while nothing has been written in this request: once a write went to the primary, every later
  read of the request follows it there (read-your-writes), and
- while this process believes the replica up: a connection error on it marks it down for
  `DATABASE_REPLICA_RETRY_SECONDS`, and `read_from_replica` runs the read again on the primary,
  so a replica outage costs no request an error.

Everything else (the seat map, services that lock or write, the admin, tasks, commands) never
asks, and so reads and writes the primary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import structlog
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError
from django.db.models import Model

REPLICA = "replica"

T = TypeVar("T")

logger = structlog.get_logger(__name__)


class _Scope:
    """One `read_from_replica` call: whether the router sent any of its reads to the replica."""

    __slots__ = ("used_replica",)

    def __init__(self) -> None:
        self.used_replica = False


_scope: ContextVar[_Scope | None] = ContextVar("replica_scope", default=None)
_wrote: ContextVar[bool] = ContextVar("replica_wrote", default=False)
# time.monotonic() until which this process leaves the replica alone. A plain float: threads
# racing to set it after one outage all write about the same value.
_down_until = 0.0


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_up() -> bool:
    """Whether this process may try the replica: it has not failed a read lately."""
    return time.monotonic() >= _down_until


def mark_replica_down(error: BaseException) -> None:
    """Read from the primary for `DATABASE_REPLICA_RETRY_SECONDS`; the first read after that tries
    the replica again."""
    global _down_until
    _down_until = time.monotonic() + settings.DATABASE_REPLICA_RETRY_SECONDS
    logger.warning(
        "replica_down",
        error=str(error).strip(),
        retry_in_seconds=settings.DATABASE_REPLICA_RETRY_SECONDS,
    )


def forget_writes(**kwargs: Any) -> None:
    """Each request starts with nothing written (connected to `request_started`)."""
    _wrote.set(False)


def read_from_replica(read: Callable[[], T]) -> T:
    """Run `read`, a read-only catalogue read, with its reads on the replica when it may serve
    them; should the replica fail (unreachable, connection lost, statement cancelled), mark it
    down and run `read` once more on the primary.

    `read` must write nothing the caller relies on being done once, as it may run twice. Without
    a replica configured it simply runs on the primary.
    """
    if not replica_configured():
        return read()
    scope = _Scope()
    token = _scope.set(scope)
    try:
        return read()
    except (OperationalError, InterfaceError) as exc:
        if not scope.used_replica:
            raise  # the primary failed: the replica is not to blame, and no retry helps
        mark_replica_down(exc)
    finally:
        _scope.reset(token)
    return read()


class ReplicaRouter:
    """Sends the reads of a `read_from_replica` call to the replica (see the module's docstring);
    every other read, and every write, to the primary."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        scope = _scope.get()
        if scope is None or _wrote.get() or not replica_up():
            # Named, not None: Django would otherwise read a related row from the database of
            # the instance it hangs off, and that could be the replica.
            return DEFAULT_DB_ALIAS
        scope.used_replica = True
        return REPLICA

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        _wrote.set(True)
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # Both aliases hold the same rows: a row read from one may refer to a row of the other.
        aliases = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        # The replica follows the primary's WAL, schema included; it takes no writes.
        return False if db == REPLICA else None
