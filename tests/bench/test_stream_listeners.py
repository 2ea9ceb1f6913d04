"""The listeners of scenario (g) (bench/stream_listeners.py), run as the benchmark runs them,
against a real stream server: what they report is what the server sent."""

from __future__ import annotations

import json
import time

import pytest

from apps.bookings import seat_stream
from tests.bench.listeners import listeners, what_listeners_read
from tests.concurrency import free_port
from tests.factories import make_session
from tests.helpers import seat_ids
from tests.processes import stream_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STREAMS = 5


def test_every_listener_reads_every_change_with_its_delay_from_the_commit():
    session = make_session()
    seats = seat_ids(session, 3)
    port = free_port()
    published_ms = 0.0

    def publish() -> None:
        nonlocal published_ms
        published_ms = time.time() * 1000
        for seat in seats:
            seat_stream.publish(session.id, [seat], seat_stream.HELD)

    with stream_server(port, SSE_FAN_OUT_SECONDS="0"):
        result = what_listeners_read(port, session.id, STREAMS, publish)

    assert result["per_listener"] == [len(seats)] * STREAMS
    assert len(result["delays_ms"]) == len(seats) * STREAMS
    # Redis's clock at the commit, read on this machine: never before the publish, within the
    # second the test waited.
    waited_ms = time.time() * 1000 - published_ms
    assert all(-5 <= delay <= waited_ms for delay in result["delays_ms"])
    assert (result["dropped"], result["closed"], result["failed"]) == (0, 0, 0)
    # One read a write at most (a listener may read two writes at once), a write at least.
    assert STREAMS <= result["reads"] <= len(seats) * STREAMS


def test_listeners_count_a_stream_the_server_ends_and_one_that_cannot_connect():
    session = make_session()
    port = free_port()

    with stream_server(port) as server:
        crowd = listeners(port, session.id, STREAMS)
        try:
            assert crowd.stdout.readline().split() == ["ready", str(STREAMS)]
            server.process.terminate()  # a graceful stop closes every open stream
            server.process.wait(timeout=20)
            out, _ = crowd.communicate(timeout=30)
        finally:
            if crowd.poll() is None:
                crowd.kill()
    assert json.loads(out.strip().splitlines()[-1])["closed"] == STREAMS

    nobody = listeners(free_port(), session.id, 2)
    out, _ = nobody.communicate(timeout=30)
    lines = out.strip().splitlines()
    assert lines[0] == "ready 0"
    assert json.loads(lines[-1])["failed"] == 2
