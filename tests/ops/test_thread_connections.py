"""A request thread's database connection is closed as soon as the thread ends, not whenever
Python's cycle collector gets to it (apps/ops/thread_connections.py)."""

from __future__ import annotations

import gc
import threading
import time

import pytest
from django.core.signals import request_finished, request_started
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def backend_gone(pid: int) -> bool:
    """Whether PostgreSQL's backend `pid` has ended (it does so a moment after its client left)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                return True
        time.sleep(0.05)
    return False


def test_a_request_threads_connection_is_closed_when_the_thread_ends(monkeypatch):
    # Connections are kept between requests, as in production (every thread's copy of the
    # settings is this one dict).
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    seen = {}

    def serve() -> None:
        request_started.send(sender=None)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            seen["pid"] = cursor.fetchone()[0]
        request_finished.send(sender=None)
        seen["open after the request"] = connection.connection is not None

    gc.disable()  # the cycle collector must have nothing to do with it
    try:
        thread = threading.Thread(target=serve)
        thread.start()
        thread.join()
        closed = backend_gone(seen["pid"])
    finally:
        gc.enable()
    assert seen["open after the request"]
    assert closed
