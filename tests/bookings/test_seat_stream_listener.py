"""A stream's listener (seat_stream_hub.Listener) on a real event loop: it waits for events until
its due time, and its alarm is not set again for every event (a change wakes every listener)."""

from __future__ import annotations

import asyncio

import pytest

from apps.bookings.seat_stream_hub import Event, Listener


def event(n: int) -> Event:
    return Event((n, 0), b"id: %d-0\nevent: seats\ndata: {}\n\n" % n, None, False)


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
        loop.call_later(0.05, listener.put, event(1))
        loop.call_later(0.05, listener.put, event(2))
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
            loop.call_soon(listener.put, event(n))
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
        loop.call_soon(listener.put, event(1))
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
    listener.put(event(1))
    listener.put(event(2))

    with pytest.raises(asyncio.QueueFull):
        listener.put(event(3))
    assert len(listener.events) == 2
