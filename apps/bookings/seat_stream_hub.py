"""The stream server's side of the live seat map: one reader per process, fanned out in memory.

One task per process reads the Redis Streams (seat_stream) of the sessions that have listeners
with one `XREAD BLOCK`, and puts each entry, rendered once as SSE bytes, on the bounded queue of
every listener of that session. After a read that brought news it pauses `SSE_FAN_OUT_SECONDS`:
the changes that commit meanwhile (a rush commits its holds within milliseconds of each other)
reach each listener in one wake-up and one write, instead of one each. A listener whose queue
is full (a client that does not read) is dropped: it gets `event: dropped` and is closed, and
never holds the others up. With Redis unreachable every listener is dropped (reason
`unavailable`): clients reconnect with `Last-Event-ID` and resume, or get a fresh snapshot.

A new listener joins without a gap: it registers first (from then on the reader queues every
entry after the stream's last id), then replays what it missed from the stream; the overlap is
skipped by id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import deque
from dataclasses import dataclass

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


class Listener:
    """One open stream: a bounded queue of events, or the reason it was dropped.

    A deque and one future, not asyncio.Queue and asyncio.Event: each change wakes every
    listener of its session, so what a wake-up costs is paid a thousand times per change. For
    the same reason its alarm (the next keep-alive, or the session's start) is not set and
    cancelled around every wait: it stays set while events come, and a wait sets one only when
    none is due early enough."""

    __slots__ = ("_alarm", "_alarm_at", "_capacity", "_waiter", "dropped", "events", "session_id")

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.events: deque[Event] = deque()
        self.dropped: str | None = None
        self._capacity = settings.SSE_CLIENT_QUEUE_SIZE
        self._waiter: asyncio.Future | None = None
        self._alarm: asyncio.TimerHandle | None = None
        self._alarm_at = 0.0  # the loop's clock

    def put(self, event: Event) -> None:
        if len(self.events) >= self._capacity:
            raise asyncio.QueueFull
        self.events.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _ring(self) -> None:
        self._alarm = None
        self._wake()

    async def take(self, due: float) -> list[Event] | None:
        """Every event queued, oldest first, waiting for one until `due` (the loop's clock,
        `loop.time()`; [] if none came by then); None once dropped."""
        loop = asyncio.get_running_loop()
        while self.dropped is None and not self.events:
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
        """The stream is over: its alarm goes."""
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None

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
            streams = {stream_key(s): format_id(c) for s, c in self._cursors.items()}
            try:
                reply = await self.redis.xread(streams, count=self._count, block=_READ_BLOCK_MS)
            except (RedisError, OSError) as exc:
                logger.warning("seat stream reader: Redis unavailable: %s", exc)
                self._drop_all("unavailable")
                await asyncio.sleep(_RETRY_SECONDS[min(failures, len(_RETRY_SECONDS) - 1)])
                failures += 1
                continue
            failures = 0
            for key, entries in reply or ():
                self._fan_out(session_of(key), entries)
            # Listeners that keep up take their events before the next batch comes; after news,
            # what commits during the pause goes out with the next read, in one wake-up each.
            await asyncio.sleep(self._pause if reply else 0)

    def _fan_out(self, session_id: int, entries: list) -> None:
        cursor = self._cursors.get(session_id)
        if cursor is None:
            return  # its last listener left while the read was under way
        for entry_id, fields in entries:
            event = render(entry_id, fields)
            if event.id <= cursor:
                continue  # read with an older cursor before a listener re-registered
            cursor = event.id
            for listener in tuple(self._listeners.get(session_id, ())):
                try:
                    listener.put(event)
                except asyncio.QueueFull:
                    self.unsubscribe(listener)
                    listener.drop("slow_consumer")
        if session_id in self._cursors:
            self._cursors[session_id] = cursor

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
