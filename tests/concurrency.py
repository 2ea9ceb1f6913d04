"""Helpers to release real concurrent clients at the same instant."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections


def run_together(callables: list[Callable[[], Any]], *, timeout: float = 60) -> list[Any]:
    """Run each callable in its own thread, all released by one barrier; return their results
    in order (an exception is returned as the result, not raised)."""
    barrier = threading.Barrier(len(callables))
    results: list[Any] = [None] * len(callables)

    def worker(index: int, fn: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = fn()
        except BaseException as exc:  # reported to the test, which decides
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(callables)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a concurrent client hung"
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def blackhole_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
