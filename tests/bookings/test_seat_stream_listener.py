"""A stream's listener (seat_stream_hub.Listener) on a real event loop: it waits for events until
its due time, and its alarm is not set again for every event (a change wakes every listener);
once live and idle it is written to by the hub at once, and a write its connection cannot take
is finished by its stream; the delivery metrics count every write and time a sample."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY

from apps.bookings.seat_stream_hub import Deliveries, Event, Listener


def event(n: int, end: bool = False) -> Event:
    return Event((n, 0), b"id: %d-0\nevent: seats\ndata: {}\n\n" % n, time.time(), end)


def put(listener: Listener, *numbers: int, end: bool = False) -> bool:
    events = [event(n, end=end) for n in numbers]
    return listener.put(events, b"".join(e.chunk for e in events), 0.0)


def run(scenario):
    return asyncio.run(scenario())


def test_with_nothing_queued_it_waits_until_its_due_time_and_gives_nothing():
    async def scenario():
        loop = asyncio.get_running_loop()
        listener = Listener(1)
        began = loop.time()
        got = await listener.take(began + 0.2)
        return got, loop.time() - began

    got, waited = run(scenario)

    assert got == []
    assert 0.19 <= waited < 1.0


def test_an_event_wakes_it_at_once_with_everything_queued_oldest_first():
    async def scenario():
        loop = asyncio.get_running_loop()
        listener = Listener(1)
        loop.call_later(0.05, put, listener, 1)
        loop.call_later(0.05, put, listener, 2)
        began = loop.time()
        got = await listener.take(began + 10)
        return [e.id for e in got], loop.time() - began

    ids, waited = run(scenario)

    assert ids == [(1, 0), (2, 0)]
    assert waited < 1.0


def test_many_events_set_one_alarm_not_one_each():
    async def scenario():
        loop = asyncio.get_running_loop()
        alarms = []
        call_at = loop.call_at

        def counted(when, callback, *args):
            alarms.append(when)
            return call_at(when, callback, *args)

        loop.call_at = counted
        listener = Listener(1)
        due = loop.time() + 15
        for n in range(1, 101):
            loop.call_soon(put, listener, n)
            got = await listener.take(due)
            assert [e.id for e in got] == [(n, 0)]
            due = loop.time() + 15  # the next keep-alive moves on after every write
        listener.close()
        return alarms

    alarms = run(scenario)

    assert len(alarms) == 1


def test_an_earlier_due_time_sets_an_earlier_alarm():
    async def scenario():
        loop = asyncio.get_running_loop()
        listener = Listener(1)
        loop.call_soon(put, listener, 1)
        await listener.take(loop.time() + 15)  # an alarm 15 s away stays set
        began = loop.time()
        got = await listener.take(began + 0.1)  # the session starts sooner
        return got, loop.time() - began

    got, waited = run(scenario)

    assert got == []
    assert waited < 1.0


def test_a_dropped_listener_is_woken_with_none():
    async def scenario():
        loop = asyncio.get_running_loop()
        listener = Listener(1)
        loop.call_later(0.05, listener.drop, "slow_consumer")
        got = await listener.take(loop.time() + 10)
        return got, listener.dropped

    assert run(scenario) == (None, "slow_consumer")


def test_a_full_queue_refuses_the_next_event(settings):
    settings.SSE_CLIENT_QUEUE_SIZE = 2
    listener = Listener(1)
    put(listener, 1)
    put(listener, 2)

    with pytest.raises(asyncio.QueueFull):
        put(listener, 3)
    assert len(listener.events) == 2


class Connection:
    """The stream's way of writing a chunk (the ASGI send of a body), on a real loop: it takes
    a chunk at once, or, while `full` is set, waits for the buffer to drain first."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.drained: asyncio.Future | None = None

    def fill(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def drain(self) -> None:
        self.drained.set_result(None)
        self.drained = None

    async def write(self, chunk: bytes) -> None:
        if self.drained is not None:
            await self.drained
        self.chunks.append(chunk)


def ids(chunks: list[bytes]) -> list[int]:
    return [
        int(line[4:].split(b"-")[0])
        for c in chunks
        for line in c.split(b"\n")
        if line[:3] == b"id:"
    ]


async def waiting_live(write, due: float = 5.0) -> tuple[Listener, asyncio.Future]:
    """A live listener whose stream waits in `take` (until `due` seconds from now), and that
    wait."""
    loop = asyncio.get_running_loop()
    listener = Listener(1)
    listener.go_live(write, (0, 0), loop.time())
    waiting = asyncio.ensure_future(listener.take(loop.time() + due))
    await asyncio.sleep(0.01)
    return listener, waiting


def test_a_live_idle_stream_is_written_at_once_without_waking_it():
    async def scenario():
        loop = asyncio.get_running_loop()
        connection = Connection()
        began = loop.time()
        listener, waiting = await waiting_live(connection.write, due=0.5)
        written = [put(listener, 1), put(listener, 2, 3)]
        got = await waiting
        return written, connection.chunks, listener.sent, got, loop.time() - began

    written, chunks, sent, got, waited = run(scenario)

    assert written == [True, True]
    assert len(chunks) == 2  # a batch is one write
    assert ids(chunks) == [1, 2, 3]
    assert sent == (3, 0)
    assert got == []  # its wait ran to its due time: nothing woke it
    assert waited >= 0.49


def test_it_is_not_written_to_before_it_is_live_nor_with_events_queued_nor_with_end():
    async def scenario():
        loop = asyncio.get_running_loop()
        listener, connection = Listener(1), Connection()
        waiting = asyncio.ensure_future(listener.take(loop.time() + 5))
        await asyncio.sleep(0.01)
        before_live = put(listener, 1)  # queued: the snapshot may not be written yet
        got = await waiting
        listener.go_live(connection.write, (1, 0), loop.time())
        waiting = asyncio.ensure_future(listener.take(loop.time() + 5))
        await asyncio.sleep(0.01)
        replayed = put(listener, 1)  # already sent
        got_replayed = await waiting
        waiting = asyncio.ensure_future(listener.take(loop.time() + 5))
        await asyncio.sleep(0.01)
        end = put(listener, 2, end=True)  # the stream writes its end itself
        got_end = await waiting
        return before_live, got, replayed, got_replayed, end, got_end, connection.chunks

    before_live, got, replayed, got_replayed, end, got_end, chunks = run(scenario)

    assert (before_live, replayed, end) == (False, False, False)
    assert [e.id for e in got] == [(1, 0)]
    assert [e.id for e in got_replayed] == [(1, 0)]  # the stream's loop skips it by id
    assert [e.id for e in got_end] == [(2, 0)]
    assert chunks == []


def test_a_write_the_connection_cannot_take_is_finished_by_the_stream_and_the_rest_queue_behind():
    async def scenario():
        loop = asyncio.get_running_loop()
        connection = Connection()
        listener, waiting = await waiting_live(connection.write)
        connection.fill()  # the client stopped reading
        first = put(listener, 1)
        second = put(listener, 2)  # behind the unfinished write
        got = await waiting  # woken: a write to finish
        loop.call_later(0.05, connection.drain)
        finished = await listener.finish_write()
        return first, second, got, [e.id for e in finished], connection.chunks, listener

    first, second, got, finished, chunks, listener = run(scenario)

    assert (first, second) == (False, False)
    assert [e.id for e in got] == [(2, 0)]
    assert finished == [(1, 0)]
    assert ids(chunks) == [1]
    assert listener.sent == (1, 0)


def test_closing_a_stream_with_an_unfinished_write_closes_that_write():
    async def scenario():
        connection = Connection()
        listener, waiting = await waiting_live(connection.write)
        connection.fill()
        put(listener, 1)
        await waiting
        listener.close()
        return await listener.finish_write(), connection.chunks

    assert run(scenario) == ([], [])


def test_a_failed_write_is_raised_in_the_stream():
    async def scenario():
        async def broken(chunk: bytes) -> None:
            raise ConnectionResetError

        listener, waiting = await waiting_live(broken)
        written = put(listener, 1)
        await waiting
        with pytest.raises(ConnectionResetError):
            await listener.finish_write()
        return written

    assert run(scenario) is False


def seats_sent() -> float:
    return REGISTRY.get_sample_value("cinema_seat_stream_events_total", {"event": "seats"}) or 0


def delivery_count() -> float:
    return REGISTRY.get_sample_value("cinema_seat_stream_delivery_seconds_count") or 0


def test_deliveries_time_one_in_the_sample_and_count_every_one_when_flushed():
    sent, timed = seats_sent(), delivery_count()
    deliveries = Deliveries(sample=3)

    for n in range(1, 8):
        deliveries.written([event(n)])
    deliveries.written([event(8, end=True)])  # not a `seats` event
    counted_before_flush = seats_sent() - sent
    deliveries.flush()

    assert counted_before_flush == 0
    assert seats_sent() - sent == 7
    assert delivery_count() - timed == 3  # the 1st, 4th and 7th
