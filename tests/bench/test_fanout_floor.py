"""The bare fan-out that stands in for the stream server in (g) (bench/fanout_floor.py): what
(g)'s listeners read from it is every change the booking services publish, as they read it from
the stream server, so the rush beside it differs from the real one only in the server's code."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from apps.bookings import seat_stream
from tests.bench.listeners import what_listeners_read
from tests.concurrency import free_port
from tests.factories import make_session
from tests.helpers import seat_ids
from tests.processes import ROOT, process_env, wait_healthy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STREAMS = 5


@contextmanager
def fanout_floor(port: int) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fanout_floor", str(port)], cwd=ROOT, env=process_env()
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, "bench.fanout_floor")
        yield process
    finally:
        process.kill()
        process.wait()


def test_every_listener_reads_every_published_change_once_from_the_stand_in():
    session, other = make_session(), make_session()
    seats = seat_ids(session, 3)
    port = free_port()
    before = seat_ids(session, 4)[-1]
    seat_stream.publish(session.id, [before], seat_stream.SOLD)  # before the listeners: not sent

    def publish() -> None:
        for seat in seats:
            seat_stream.publish(session.id, [seat], seat_stream.HELD)
        seat_stream.publish(other.id, seat_ids(other, 1), seat_stream.HELD)  # nobody's

    with fanout_floor(port):
        result = what_listeners_read(port, session.id, STREAMS, publish)

    assert result["per_listener"] == [len(seats)] * STREAMS
    assert (result["dropped"], result["closed"], result["failed"]) == (0, 0, 0)
    assert len(result["delays_ms"]) == len(seats) * STREAMS


def test_the_stand_in_answers_health_and_turns_away_other_paths():
    port = free_port()
    with fanout_floor(port):
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/x", timeout=5).status_code == 404
