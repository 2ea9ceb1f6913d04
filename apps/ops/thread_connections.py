"""A request thread's database connections are closed when the thread ends.

Django keeps a connection per thread between requests (`DATABASE_CONN_MAX_AGE`). The web server
runs the app in a pool of threads that grows under load and ends the threads that stay idle. The
objects around a Django connection refer to each other, so when its thread ends the connection
stays open until Python's cycle collector runs, which in a process of this size may take hours:
every burst after a quiet spell would leave a pool's worth of idle connections behind, until
PostgreSQL refuses new ones. So each request thread gets a marker in a thread-local; when the
thread ends its locals are freed at once, and the marker's finalizer closes the connections the
thread had open.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from django.core.signals import request_finished
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.dispatch import receiver

_thread = threading.local()


class _Marker:
    """Lives exactly as long as its thread's locals."""


def _close(opened: list[BaseDatabaseWrapper]) -> None:
    for wrapper in opened:
        if wrapper.connection is not None:
            wrapper.connection.close()


@receiver(request_finished)
def close_with_the_thread(**kwargs: Any) -> None:
    opened = getattr(_thread, "opened", None)
    if opened is None:
        opened = _thread.opened = []
        _thread.marker = _Marker()
        weakref.finalize(_thread.marker, _close, opened)
    opened[:] = connections.all(initialized_only=True)
