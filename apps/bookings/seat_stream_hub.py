"""The stream server's side of the live seat map: one reader per process, fanned out in memory.

One task per process reads the Redis Streams (seat_stream) of the sessions that have listeners
with one `XREAD BLOCK`. When news comes it waits `SSE_FAN_OUT_SECONDS` and then reads all that
came: changes come in bursts (a seat freed and taken again at once), and those that commit
within the pause reach each listener with the news in one write. Each entry is rendered once as
SSE bytes and written to every listener of its session: by the reader itself when the listener
is idle, else through the listener's bounded queue (Listener). A listener whose queue is full
(a client that does not read) is dropped: it gets `event: dropped` and is closed, and never
holds the others up. With Redis unreachable every listener is dropped (reason `unavailable`):
clients reconnect with `Last-Event-ID` and resume, or get a fresh snapshot.

A new listener joins without a gap: it registers first (from then on the reader queues every
entry after the stream's last id), then replays what it missed from the stream; the overlap is
skipped by id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError, ResponseError

from apps.core.redis_connections import async_redis_client

from . import metrics
from .seat_stream import session_of, stream_key

logger = logging.getLogger(__name__)

# How long one XREAD waits for news: a session whose first listener arrives meanwhile is read
# from the next round, so this bounds the delay of its first event (idle cost: a few reads/s).
_READ_BLOCK_MS = 100
_READ_COUNT = 500
_RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0)
_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# The `seats` events sent (the labelled child, bound once).
_SEATS_SENT = metrics.SEAT_STREAM_EVENTS.labels(event="seats")

StreamId = tuple[int, int]


def parse_id(entry_id: bytes | str) -> StreamId:
    if isinstance(entry_id, bytes):
        entry_id = entry_id.decode()
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


def format_id(entry_id: StreamId) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def valid_id(value: str) -> bool:
    return bool(_ID.match(value))


@dataclass(frozen=True)
class Event:
    id: StreamId
    chunk: bytes  # the whole SSE event
    committed_at: float | None  # Unix seconds, for the delivery-latency metric
    end: bool  # the last event of the stream


def render(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Event:
    """One stream entry as an SSE event."""
    sid = parse_id(entry_id)
    committed_at = float(fields[b"t"]) if b"t" in fields else None
    if b"end" in fields:
        data = json.dumps({"reason": fields[b"end"].decode()}).encode()
        name, end = b"end", True
    else:
        data = b'{"seats":' + fields[b"seats"] + b"}"
        name, end = b"seats", False
    chunk = b"id: %s\nevent: %s\ndata: %s\n\n" % (format_id(sid).encode(), name, data)
    return Event(sid, chunk, committed_at, end)


Write = Callable[[bytes], Coroutine[Any, Any, None]]


class Deliveries:
    """The `seats` events written to clients, and their delivery latency, for Prometheus.

    Each change is written to every listener of its session: a thousand writes a change in a
    rush. Counting each one in Prometheus's multiprocess files (a lock and an mmap write per
    value) took a quarter of the stream server's CPU per event (bench.seat_stream: 11 µs an
    event delivered, 8.5 µs without). So the count is summed here and added once per fan-out
    (`flush`), and the latency of one delivery in `SSE_LATENCY_SAMPLE` is observed: a sample
    taken evenly across deliveries, so the histogram's quantiles stay those of every delivery.
    """

    __slots__ = ("_left", "_sample", "pending")

    def __init__(self, sample: int) -> None:
        self._sample = max(1, sample)
        self._left = 1  # the first delivery is observed
        self.pending = 0

    def written(self, events: list[Event]) -> None:
        """`events` were written to one client (an `end` among them is not a `seats`)."""
        for event in events:
            if event.end:
                continue
            self.pending += 1
            self._left -= 1
            if self._left == 0:
                self._left = self._sample
                if event.committed_at is not None:
                    latency = max(0.0, time.time() - event.committed_at)
                    metrics.SEAT_STREAM_DELIVERY.observe(latency)

    def flush(self) -> None:
        if self.pending:
            _SEATS_SENT.inc(self.pending)
            self.pending = 0


class Listener:
    """One open stream: a bounded queue of events, or the reason it was dropped.

    Once its stream is live (`go_live`: the snapshot or the replay is sent), a listener whose
    stream waits in `take` with nothing queued is written to by the hub itself, during the
    fan-out (`put`): one write to the connection, without waking the stream's coroutine. A change
    goes to every listener of its session, so what a listener costs per change is paid a
    thousand times: a wake-up (a future's result, a task step, the loop around it) cost as much
    as the write (the stream server's CPU in (g) fell from 0.05-0.06 to 0.03-0.04 of a core). A
    write the connection cannot take at once (flow control: the client is not reading) is left
    for the stream's coroutine to finish (`finish_write`), and what follows queues behind it.

    A deque and one future, not asyncio.Queue and asyncio.Event, for the same reason; and its
    alarm (the next keep-alive, or the session's start) is not set and cancelled around every
    wait: it stays set while events come, and a wait sets one only when none is due early
    enough."""

    __slots__ = (
        "_alarm",
        "_alarm_at",
        "_capacity",
        "_unfinished",
        "_waiter",
        "_write",
        "dropped",
        "events",
        "sent",
        "session_id",
        "written_at",
    )

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.events: deque[Event] = deque()
        self.dropped: str | None = None
        self.sent: StreamId = (0, 0)  # the id of the last event written
        self.written_at = 0.0  # the loop's clock at the last write
        self._capacity = settings.SSE_CLIENT_QUEUE_SIZE
        self._waiter: asyncio.Future | None = None
        self._alarm: asyncio.TimerHandle | None = None
        self._alarm_at = 0.0  # the loop's clock
        self._write: Write | None = None
        # A write begun by the hub that the connection could not take at once: the coroutine,
        # what it waits for, and its events; or the exception it raised.
        self._unfinished: tuple[Coroutine, Any, list[Event]] | BaseException | None = None

    def go_live(self, write: Write, sent: StreamId, now: float) -> None:
        """From now on the hub may write events itself, with `write` (the stream's own way of
        writing a chunk), while the stream waits in `take`; `sent` was written last."""
        self._write = write
        self.sent = sent
        self.written_at = now

    def wrote(self, events: list[Event], now: float) -> None:
        """`events` reached the connection (in one write, the last newest) at `now`, the
        loop's clock: what the keep-alive and the skipping of replayed ids go by."""
        self.sent = events[-1].id
        self.written_at = now

    def put(self, events: list[Event], chunk: bytes, now: float) -> bool:
        """Queue `events` (in order; `chunk` is all of them as one write) for the stream, or
        write them at once (True) when the stream is live, idle, has nothing queued and has not
        sent them yet; `now` is the loop's clock."""
        waiter = self._waiter
        if (
            self._write is not None
            and waiter is not None
            and not waiter.done()
            and not self.events
            and self._unfinished is None
            and events[0].id > self.sent  # else partly replayed: the stream sorts it out
            and not events[-1].end  # the stream ends itself after `end`
        ):
            return self._write_now(events, chunk, now)
        if len(self.events) + len(events) > self._capacity:
            raise asyncio.QueueFull
        self.events.extend(events)
        self._wake()
        return False

    def _write_now(self, events: list[Event], chunk: bytes, now: float) -> bool:
        write = self._write(chunk)
        try:
            # One step of the write: it ends at once unless the connection's buffer is full.
            waiting_for = write.send(None)
        except StopIteration:
            self.wrote(events, now)
            return True
        except Exception as exc:  # raised where the stream's own write would have raised it
            self._unfinished = exc
        else:
            self._unfinished = (write, waiting_for, events)
        self._wake()
        return False

    async def finish_write(self) -> list[Event]:
        """Finish the write the hub began and the connection could not take at once (the
        stream's coroutine takes it over, as a task would); its events ([] if there was
        none). Raises what the write raised."""
        unfinished, self._unfinished = self._unfinished, None
        if unfinished is None:
            return []
        if isinstance(unfinished, BaseException):
            raise unfinished
        write, waiting_for, events = unfinished
        try:
            while True:
                if waiting_for is None:  # a bare yield: it asks to run again soon
                    await asyncio.sleep(0)
                else:
                    await asyncio.wait({waiting_for})  # the future it awaits; it reads the result
                try:
                    waiting_for = write.send(None)
                except StopIteration:
                    break
        except BaseException:
            write.close()
            raise
        self.wrote(events, asyncio.get_running_loop().time())
        return events

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _ring(self) -> None:
        self._alarm = None
        self._wake()

    async def take(self, due: float) -> list[Event] | None:
        """Every event queued, oldest first, waiting for one until `due` (the loop's clock,
        `loop.time()`); [] if none came by then, or if a write of the hub's waits to be
        finished (`finish_write`); None once dropped."""
        loop = asyncio.get_running_loop()
        while self.dropped is None and not self.events and self._unfinished is None:
            if loop.time() >= due:
                return []
            if self._alarm is None or self._alarm_at > due:
                if self._alarm is not None:
                    self._alarm.cancel()
                self._alarm = loop.call_at(due, self._ring)
                self._alarm_at = due
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.dropped is not None:
            return None
        events = list(self.events)
        self.events.clear()
        return events

    def close(self) -> None:
        """The stream is over: its alarm goes, and a write left unfinished is closed."""
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        if isinstance(self._unfinished, tuple):
            self._unfinished[0].close()
        self._unfinished = None

    def drop(self, reason: str) -> None:
        if self.dropped is None:
            self.dropped = reason
            metrics.SEAT_STREAM_DROPS.labels(reason=reason).inc()
            self.events.clear()  # its memory goes at once
            self._wake()


class Hub:
    def __init__(self) -> None:
        self._listeners: dict[int, set[Listener]] = {}
        self._cursors: dict[int, StreamId] = {}
        self._reader: asyncio.Task | None = None
        self._wake = asyncio.Event()
        # A read brings at most half a client queue per session: a burst never fills the queue
        # of a client that keeps up; only one that does not read fills it.
        self._count = max(1, min(_READ_COUNT, settings.SSE_CLIENT_QUEUE_SIZE // 2))
        self._pause = settings.SSE_FAN_OUT_SECONDS
        self.deliveries = Deliveries(settings.SSE_LATENCY_SAMPLE)
        self.redis = async_redis_client(timeout=_READ_BLOCK_MS / 1000 + 5, connect_timeout=2)

    # --- listeners ---------------------------------------------------------------------------
    def subscribe(self, listener: Listener, after: StreamId) -> None:
        """Queue for `listener` every entry of its session after `after` (the stream's last id,
        read by the caller just before) that the reader has not read yet, and all that follow."""
        session_id = listener.session_id
        if session_id not in self._listeners:
            self._listeners[session_id] = set()
            self._cursors[session_id] = after
        self._listeners[session_id].add(listener)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="seat-stream-reader")
        self._wake.set()

    def unsubscribe(self, listener: Listener) -> None:
        listeners = self._listeners.get(listener.session_id)
        if listeners is None:
            return
        listeners.discard(listener)
        if not listeners:
            del self._listeners[listener.session_id]
            del self._cursors[listener.session_id]

    # --- reads a listener makes itself -------------------------------------------------------
    async def last_id(self, session_id: int) -> StreamId:
        """The id of the stream's newest entry ((0, 0) when it has none)."""
        newest = await self.redis.xrevrange(stream_key(session_id), count=1)
        return parse_id(newest[0][0]) if newest else (0, 0)

    async def entries_after(self, session_id: int, after: StreamId) -> list[Event] | None:
        """Every entry after `after`, or None when some may be gone (trimmed, or the stream
        expired): then only a snapshot is safe."""
        key = stream_key(session_id)
        try:
            info = await self.redis.xinfo_stream(key)
        except ResponseError:  # no such stream (it expired, or nothing was ever written)
            return None
        last = parse_id(info["last-generated-id"])
        if after > last:
            return None  # from another stream's lifetime (this one expired and began again)
        if after == last:
            # Nothing since, unless `after` is the stream's `end` (a session moved to another
            # room or time): its map is a new one, so only a snapshot is right.
            newest = info.get("last-entry")
            return None if newest is not None and b"end" in newest[1] else []
        first = info.get("first-entry")
        never_trimmed = info["entries-added"] == info["length"]
        if not never_trimmed and (first is None or parse_id(first[0]) > after):
            return None  # entries right after `after` may have been trimmed away
        entries = await self.redis.xrange(key, min=f"({format_id(after)}")
        return [render(entry_id, fields) for entry_id, fields in entries]

    # --- the reader --------------------------------------------------------------------------
    async def _read(self) -> None:
        failures = 0
        while True:
            if not self._listeners:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                reply = await self.redis.xread(self._streams(), self._count, _READ_BLOCK_MS)
                if reply and self._pause:
                    # News. Changes come in bursts (a seat freed, and taken again at once):
                    # what commits within the pause goes out with it, in one write to each
                    # listener, so the next read starts over from the same cursors.
                    await asyncio.sleep(self._pause)
                    reply = await self.redis.xread(self._streams(), self._count)
            except (RedisError, OSError) as exc:
                logger.warning("seat stream reader: Redis unavailable: %s", exc)
                self._drop_all("unavailable")
                await asyncio.sleep(_RETRY_SECONDS[min(failures, len(_RETRY_SECONDS) - 1)])
                failures += 1
                continue
            failures = 0
            for key, entries in reply or ():
                self._fan_out(session_of(key), entries)
            self.deliveries.flush()

    def _streams(self) -> dict[str, str]:
        """What the reader reads: each session's stream after its cursor."""
        return {stream_key(s): format_id(c) for s, c in self._cursors.items()}

    def _fan_out(self, session_id: int, entries: list) -> None:
        cursor = self._cursors.get(session_id)
        if cursor is None:
            return  # its last listener left while the read was under way
        # Read with an older cursor before a listener re-registered: what is not newer is sent.
        events = [e for e in (render(i, f) for i, f in entries) if e.id > cursor]
        if not events:
            return
        self._cursors[session_id] = events[-1].id
        chunk = b"".join(event.chunk for event in events)
        now = asyncio.get_running_loop().time()
        for listener in tuple(self._listeners.get(session_id, ())):
            try:
                if listener.put(events, chunk, now):
                    self.deliveries.written(events)
            except asyncio.QueueFull:
                self.unsubscribe(listener)
                listener.drop("slow_consumer")

    def _drop_all(self, reason: str) -> None:
        for listeners in list(self._listeners.values()):
            for listener in list(listeners):
                self.unsubscribe(listener)
                listener.drop(reason)

    def open_streams(self) -> int:
        return sum(len(listeners) for listeners in self._listeners.values())


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    """This process's hub (one per event loop: the stream server runs one)."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub()
    return _hubs[loop]
