"""The live seat map stream, with real clients (httpx, raw sockets) against a real stream server
(uvicorn) and WSGI instances (`make web`): every committed change reaches listeners, resuming
loses nothing, slow clients are dropped alone, and streams end with their session."""

from __future__ import annotations

import queue
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from apps.bookings import seat_stream, services
from apps.payments import refunds
from tests.concurrency import free_port
from tests.factories import UserFactory, hold, make_overdue, make_room, make_session
from tests.helpers import seat_ids as first_seat_ids
from tests.metrics import scrape
from tests.processes import login_over_http, stream_server, web_server
from tests.sse import DELIVERY_BOUND, Listener, changes, event_id, stream_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class _At:
    """What tests.metrics.scrape needs of a client, for a server of its own."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, timeout=10)


def test_every_committed_change_reaches_a_listener_with_increasing_ids():
    session = make_session()
    buyer = UserFactory()
    staff = UserFactory(is_superuser=True, is_staff=True)
    a, b, c, d = (first_seat_ids(session, 1, offset=i)[0] for i in range(4))

    with (
        web_server(free_port()) as web,
        stream_server(free_port(), SSE_LATENCY_SAMPLE="1") as streams,
    ):
        token = login_over_http(web, buyer.email)
        staff_token = login_over_http(web, staff.email)
        api = requests.Session()
        api.headers["X-Session-Token"] = token
        listener = Listener(stream_url(streams, session.id))
        try:
            assert listener.status == 200
            assert listener.headers["content-type"].startswith("text/event-stream")
            snapshot = listener.next()
            assert snapshot.event == "snapshot"
            # The same map as GET /seats.
            assert (
                snapshot.json()
                == requests.get(f"{web}/api/v1/sessions/{session.id}/seats", timeout=10).json()
            )
            ids = [event_id(snapshot)]

            def expect(wanted: dict[int, str]) -> None:
                event = listener.next()
                assert event is not None, "the stream ended"
                assert changes(event) == wanted
                ids.append(event_id(event))

            # A hold through a WSGI instance: held, within the bound.
            started = time.monotonic()
            r = api.post(
                f"{web}/api/v1/reservations", json={"session": session.id, "seats": [a, b]}
            )
            assert r.status_code == 201, r.text
            expect({a: "held", b: "held"})
            assert time.monotonic() - started < DELIVERY_BOUND
            # Cancelled: available.
            assert api.delete(f"{web}/api/v1/reservations/{r.json()['id']}").status_code == 204
            expect({a: "available", b: "available"})
            # Paid: held, then sold.
            r = api.post(f"{web}/api/v1/reservations", json={"session": session.id, "seats": [c]})
            expect({c: "held"})
            paid = api.post(
                f"{web}/api/v1/reservations/{r.json()['id']}/payment", json={"token": "tok_visa"}
            )
            assert paid.status_code == 201, paid.text
            expect({c: "sold"})
            # Refunded: available.
            refund = requests.post(
                f"{web}/api/v1/sales/{paid.json()['id']}/refund",
                headers={"X-Session-Token": staff_token},
                timeout=10,
            )
            assert refund.status_code == 200, refund.text
            expect({c: "available"})
            # Expired by the sweeper: available.
            overdue = hold(buyer, session, seat_ids=[d])
            expect({d: "held"})
            make_overdue(overdue)
            assert services.expire_overdue_reservations() == 1
            expect({d: "available"})
            assert ids == sorted(ids)
            assert len(set(ids)) == len(ids)
            # The stream server's metrics saw it all (its own: no multiprocess folder here).
            seen = scrape(_At(streams))
            assert seen[("cinema_seat_streams_open", ())] == 1
            assert seen[("cinema_seat_stream_events_total", (("event", "snapshot"),))] == 1
            assert seen[("cinema_seat_stream_events_total", (("event", "seats"),))] == 7
            assert seen[("cinema_seat_stream_delivery_seconds_count", ())] == 7
            assert seen[("cinema_seat_stream_delivery_seconds_bucket", (("le", "2.5"),))] == 7
        finally:
            listener.close()


def test_a_burst_of_changes_reaches_every_listener_whole_and_in_order():
    """Changes read together go out together, in one write to each client: each still arrives
    as its own event, once, in commit order, and is counted as one."""
    session = make_session()
    burst = 200

    with stream_server(free_port(), SSE_LATENCY_SAMPLE="4") as streams:
        listeners = [Listener(stream_url(streams, session.id)) for _ in range(3)]
        try:
            for listener in listeners:
                assert listener.next().event == "snapshot"
            for marker in range(1, burst + 1):
                seat_stream.publish(session.id, [marker], "held")
            for listener in listeners:
                events = [listener.next() for _ in range(burst)]
                assert [list(changes(event)) for event in events] == [
                    [marker] for marker in range(1, burst + 1)
                ]
                ids = [event_id(event) for event in events]
                assert ids == sorted(set(ids))
            seen = scrape(_At(streams))
            assert seen[("cinema_seat_stream_events_total", (("event", "seats"),))] == 3 * burst
            # One delivery in SSE_LATENCY_SAMPLE is timed.
            assert seen[("cinema_seat_stream_delivery_seconds_count", ())] == 3 * burst / 4
        finally:
            for listener in listeners:
                listener.close()


def test_changes_committed_within_the_pause_after_news_reach_a_client_in_one_write():
    """Changes come in bursts (a seat freed and taken again at once, a rush's holds): the hub
    waits SSE_FAN_OUT_SECONDS after news before it reads and sends, and what commits meanwhile
    reaches each client with it in one write (one chunk of the response), every change still
    its own event, in order."""
    session = make_session()
    port = free_port()
    path = f"/api/v1/sessions/{session.id}/seats/stream"
    with stream_server(port, SSE_FAN_OUT_SECONDS="1.0"):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.settimeout(5)
        try:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            received = b""
            while b"event: snapshot" not in received or not received.endswith(b"\r\n"):
                received += sock.recv(1 << 20)
            time.sleep(0.3)  # subscribed, and the reader is waiting for news

            published = time.monotonic()
            for marker in range(1, 7):  # the first is the news, the rest commit in the pause
                seat_stream.publish(session.id, [marker], "held")
            together = sock.recv(65536)

            assert time.monotonic() - published < 1.0 + DELIVERY_BOUND
            assert together.count(b"event: seats") == 6, together
            markers = [int(part.split(b",")[0]) for part in together.split(b'"id":')[1:]]
            assert markers == [1, 2, 3, 4, 5, 6]
        finally:
            sock.close()


def test_resuming_with_last_event_id_loses_nothing_and_a_too_old_id_gets_a_snapshot(settings):
    session = make_session()
    buyer = UserFactory()
    with stream_server(free_port()) as streams:
        first = Listener(stream_url(streams, session.id))
        snapshot = first.next()
        held = hold(buyer, session, seat_ids=first_seat_ids(session, 2))
        seen = first.next()
        first.close()  # the client goes away...
        # ...while the seats change three more times.
        services.reservation_cancel(reservation_id=held.id, user=buyer)
        again = hold(buyer, session, seat_ids=first_seat_ids(session, 1, offset=5))
        make_overdue(again)
        services.expire_overdue_reservations()

        resumed = Listener(stream_url(streams, session.id), last_event_id=seen.id)
        try:
            got = [resumed.next() for _ in range(3)]
            assert [e.event for e in got] == ["seats", "seats", "seats"]
            assert [set(changes(e).values()) for e in got] == [
                {"available"},
                {"held"},
                {"available"},
            ]
            assert event_id(got[0]) > event_id(seen)
            with pytest.raises(queue.Empty):  # and nothing twice
                resumed.next(0.5)
        finally:
            resumed.close()

        # From the snapshot's id: the four changes since, nothing lost.
        replay = Listener(stream_url(streams, session.id), last_event_id=snapshot.id)
        try:
            assert [replay.next().event for _ in range(4)] == ["seats"] * 4
        finally:
            replay.close()

        # An id whose successors were trimmed away: a fresh snapshot instead.
        settings.SEAT_STREAM_MAXLEN = 5
        for _ in range(300):
            seat_stream.publish(session.id, [first_seat_ids(session, 1)[0]], "available")
        old = Listener(stream_url(streams, session.id), last_event_id=snapshot.id)
        try:
            assert old.next().event == "snapshot"
        finally:
            old.close()
        # A malformed id is treated as none.
        bad = Listener(stream_url(streams, session.id), last_event_id="yesterday")
        try:
            assert bad.next().event == "snapshot"
        finally:
            bad.close()


def _raw_stream(port: int, path: str) -> socket.socket:
    """A client with a tiny receive buffer that sends the request and then reads nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def test_a_client_that_stops_reading_is_dropped_without_slowing_the_others():
    session = make_session()
    port = free_port()
    # 1,000 seat ids a change (28 kB events): a burst that outgrows every buffer on the way to
    # the slow client (the kernel's socket buffers alone take up to 4 MB here).
    many = list(range(1, 1001))
    with stream_server(port, SSE_CLIENT_QUEUE_SIZE="20"):
        base = f"http://127.0.0.1:{port}"
        good = Listener(stream_url(base, session.id))
        slow = _raw_stream(port, f"/api/v1/sessions/{session.id}/seats/stream")
        try:
            assert good.next().event == "snapshot"
            time.sleep(0.5)  # the slow client is connected and subscribed
            burst = 300
            started = time.monotonic()
            for i in range(burst):  # changes come fast, not all in one instant
                seat_stream.publish(session.id, many, "held")
                if i % 10 == 9:
                    time.sleep(0.005)
            for _ in range(burst):
                event = good.next(5)
                assert event is not None
                assert event.event == "seats"
            # The reading client got the whole burst promptly, whatever the other one does.
            assert time.monotonic() - started < 20
            # The slow client, reading again, finds `dropped`, the last event of its stream.
            slow.settimeout(10)
            received = b""
            while not received.endswith(b"\r\n0\r\n\r\n"):  # the end of a chunked body
                chunk = slow.recv(65536)
                assert chunk, "closed before the end of the stream"
                received += chunk
            assert b"event: dropped" in received.rsplit(b"event: seats", 1)[-1]
            assert b'"reason": "slow_consumer"' in received
            # Dropped well before the end of the burst: the server kept little for it.
            assert received.count(b"event: seats") < burst
            seen = scrape(_At(base))
            assert seen[("cinema_seat_stream_drops_total", (("reason", "slow_consumer"),))] == 1
            assert seen[("cinema_seat_streams_open", ())] == 1  # the good one
        finally:
            good.close()
            slow.close()


def test_open_streams_per_client_ip_are_limited():
    session = make_session()
    with stream_server(free_port(), SSE_MAX_STREAMS_PER_IP="2") as streams:
        url = stream_url(streams, session.id)
        open_ = [Listener(url), Listener(url)]
        try:
            for listener in open_:
                assert listener.next().event == "snapshot"
            refused = requests.get(url, timeout=5)
            assert refused.status_code == 429
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "too_many_streams"
            assert refused.json()["detail"] == "Há streams abertos demais a partir deste endereço."
            in_english = requests.get(url, headers={"Accept-Language": "en"}, timeout=5)
            assert in_english.json()["detail"] == "Too many open streams from this address."
            open_.pop().close()
            deadline = time.monotonic() + 5
            while (third := requests.get(url, timeout=5, stream=True)).status_code == 429:
                third.close()
                assert time.monotonic() < deadline, "the closed stream was never counted off"
                time.sleep(0.1)
            assert third.status_code == 200
            third.close()
        finally:
            for listener in open_:
                listener.close()


def test_a_keep_alive_comment_comes_while_nothingchanges():
    session = make_session()
    with stream_server(free_port(), SSE_KEEPALIVE_SECONDS="0.3") as streams:
        listener = Listener(stream_url(streams, session.id))
        try:
            assert listener.next().event == "snapshot"
            comment = listener.next(2, comments=True)
            assert (comment.event, comment.data) == ("comment", "keep-alive")
        finally:
            listener.close()


def test_the_stream_ends_when_the_session_is_cancelled_or_starts():
    session = make_session()
    soon = make_session(starts_at=timezone.now() + timedelta(seconds=3))
    with stream_server(free_port()) as streams:
        cancelled = Listener(stream_url(streams, session.id))
        starting = Listener(stream_url(streams, soon.id))
        try:
            assert cancelled.next().event == "snapshot"
            assert starting.next().event == "snapshot"
            refunds.session_cancel(session_id=session.id)
            end = cancelled.next()
            assert (end.event, end.json()) == ("end", {"reason": "session_cancelled"})
            assert cancelled.next() is None  # closed by the server
            end = starting.next(6)
            assert (end.event, end.json()) == ("end", {"reason": "session_started"})
            assert starting.next() is None
            # Reconnecting: 204, which tells an EventSource to stop retrying.
            assert requests.get(stream_url(streams, session.id), timeout=5).status_code == 204
            assert requests.get(stream_url(streams, soon.id), timeout=5).status_code == 204
        finally:
            cancelled.close()
            starting.close()


def test_an_unknown_session_is_a_problem_404():
    with stream_server(free_port()) as streams:
        response = requests.get(stream_url(streams, 999999), timeout=5)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_without_redis_a_stream_says_dropped_at_once_so_the_client_retries():
    session = make_session()
    with stream_server(free_port(), REDIS_URL="redis://127.0.0.1:6399/0") as streams:
        listener = Listener(stream_url(streams, session.id), last_event_id="1-0")
        try:
            event = listener.next(5)
            assert event.event == "dropped"
            assert event.json() == {"reason": "unavailable", "last_event_id": "1-0"}
            assert listener.next() is None
        finally:
            listener.close()


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


def test_open_streams_hold_no_thread_each():
    session = make_session()
    with stream_server(free_port(), SSE_MAX_STREAMS_PER_IP="100") as streams:
        first = Listener(stream_url(streams, session.id))
        listeners = [first]
        try:
            assert first.next().event == "snapshot"
            before = _threads(streams.process.pid)
            for _ in range(40):
                listeners.append(Listener(stream_url(streams, session.id)))
                assert listeners[-1].next().event == "snapshot"
            # 40 more open streams, and at most a few more threads (the loop's shared pool).
            assert _threads(streams.process.pid) < before + 10
        finally:
            for listener in listeners:
                listener.close()


def test_streams_opening_together_share_a_snapshot_yet_a_later_change_is_never_missed():
    """A snapshot is shared only by streams that registered at the same newest id: a stream that
    opens just after a change sees that change, in its snapshot or as an event."""
    session = make_session()
    buyer = UserFactory()
    seat = first_seat_ids(session, 1)[0]
    with stream_server(free_port()) as streams:
        crowd = [Listener(stream_url(streams, session.id)) for _ in range(10)]
        try:
            maps = [listener.next() for listener in crowd]
            assert {event.event for event in maps} == {"snapshot"}
            assert len({event.data for event in maps}) == 1
            built = scrape(_At(streams))[("cinema_seat_stream_snapshots_built_total", ())]
            assert built < len(crowd)  # shared (a build per stream would be 10)

            hold(buyer, session, seat_ids=[seat])  # moves the stream's newest id on
            late = Listener(stream_url(streams, session.id))  # within the sharing window
            try:
                snapshot = late.next()
                assert snapshot.event == "snapshot"
                status = {s["id"]: s["status"] for s in snapshot.json()}[seat]
                if status != "held":  # then the change must follow as an event
                    assert changes(late.next()) == {seat: "held"}
                assert event_id(snapshot) > event_id(maps[0])
            finally:
                late.close()
        finally:
            for listener in crowd:
                listener.close()


def test_a_stream_resumed_after_its_session_moved_gets_the_new_map():
    """`end` (`session_moved`) carries an id, which an EventSource sends back when it reconnects:
    nothing came after it, yet the old map is wrong, so a snapshot comes."""
    session = make_session()
    bigger = make_room(rows=5, seats_per_row=6)
    with stream_server(free_port()) as streams:
        listener = Listener(stream_url(streams, session.id))
        try:
            assert len(listener.next().json()) == 20
            services.session_correct(
                session_id=session.pk,
                movie=session.movie,
                room=bigger,
                starts_at=session.starts_at,
                price=session.price,
            )
            end = listener.next()
            assert end.event == "end"
            assert end.json() == {"reason": "session_moved"}
        finally:
            listener.close()
        resumed = Listener(stream_url(streams, session.id), last_event_id=end.id)
        try:
            snapshot = resumed.next()
            assert snapshot.event == "snapshot"
            assert len(snapshot.json()) == 30
        finally:
            resumed.close()
