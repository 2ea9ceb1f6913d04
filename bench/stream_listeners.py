"""Many listeners of one session's live seat map, in one process: the buyers who watch a rush.

    python -m bench.stream_listeners PORT SESSION_ID STREAMS

Opens STREAMS streams (`GET /api/v1/sessions/{id}/seats/stream`) to the stream server on PORT as
raw asyncio connections (uvloop), in waves of 100 as a crowd arrives, and prints `ready N` once N
of them have their snapshot (or after 120 s). It then reads every stream until stdin closes, and
prints one JSON line: for every `seats` event read by every listener, the delay from the event's
commit to its arrival; the events each listener read; drops and early closes. (What a listener
reads after its snapshot is kept with its arrival time and parsed at the end.)

The commit time is the event's id: a Redis stream id, whose first part is Redis's clock (ms) when
the commit published the change. Redis runs on this machine, so the two clocks are one. A
listener reads whole chunks and looks only at each event's `id:` and `event:` lines, so that the
load generator spends as little as it can of the cores it shares with the server.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time

import uvloop

_EVENT = re.compile(rb"id: (\d+)-\d+\nevent: (\w+)\n")
_WAVE = 100
_READY_TIMEOUT_SECONDS = 120.0


class Totals:
    def __init__(self) -> None:
        self.delays_ms: list[float] = []
        self.per_listener: list[int] = []
        self.dropped = 0
        self.closed = 0  # ended by the server otherwise (or never opened)
        self.failed = 0  # could not connect
        self.reads = 0  # reads after the snapshots: about one a write of the server


class _Listener(asyncio.Protocol):
    """One listener: a protocol, not a task, so that a read costs one callback and no wake-up
    of a coroutine (the load generator shares the server's cores). Once it has its snapshot it
    only keeps what it reads with the time it arrived, and reads the events out of it at the
    end, off the measured rush."""

    def __init__(self, request: bytes, ready: asyncio.Event, totals: Totals) -> None:
        self.request = request
        self.ready = ready
        self.totals = totals
        self.transport: asyncio.Transport | None = None
        self.pending = b""
        self.reads: list[tuple[float, bytes]] = []  # after the snapshot: (arrived ms, data)
        self.seen = 0
        self.has_snapshot = False
        self.ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.has_snapshot:
            self.reads.append((time.time() * 1000, data))
        elif self._parse(time.time() * 1000, data):
            self.end()

    def _parse(self, arrived_ms: float, data: bytes) -> bool:
        """Count the events that `data` completes; True at `dropped`."""
        pending = self.pending + data
        cut = pending.rfind(b"\n\n")
        if cut < 0:
            self.pending = pending
            return False
        complete, self.pending = pending[: cut + 2], pending[cut + 2 :]
        for match in _EVENT.finditer(complete):
            kind = match[2]
            if kind == b"seats":
                self.totals.delays_ms.append(arrived_ms - int(match[1]))
                self.seen += 1
            elif kind == b"snapshot":
                self.has_snapshot = True
                self.ready.set()
            elif kind == b"dropped":
                self.totals.dropped += 1
                return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended:
            self.end(closed=True)

    def end(self, closed: bool = False) -> None:
        """Once: read what it kept, count it, and close."""
        if self.ended:
            return
        self.ended = True
        self.totals.reads += len(self.reads)
        for arrived_ms, data in self.reads:
            if self._parse(arrived_ms, data):
                closed = False  # the server's close after `dropped`
                break
        self.reads.clear()
        self.totals.closed += closed
        self.ready.set()
        self.totals.per_listener.append(self.seen)
        self.transport.close()


async def _connect(port: int, request: bytes, ready: asyncio.Event, totals: Totals):
    loop = asyncio.get_running_loop()
    try:
        _, listener = await loop.create_connection(
            lambda: _Listener(request, ready, totals), "127.0.0.1", port
        )
    except OSError:
        totals.failed += 1
        ready.set()
        return None
    return listener


async def _main(port: int, session_id: int, streams: int) -> None:
    path = f"/api/v1/sessions/{session_id}/seats/stream"
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    totals = Totals()
    readies = [asyncio.Event() for _ in range(streams)]
    connecting = []
    for index, ready in enumerate(readies):
        connecting.append(asyncio.create_task(_connect(port, request, ready, totals)))
        if (index + 1) % _WAVE == 0:
            await asyncio.sleep(0.05)
    listeners = [listener for listener in await asyncio.gather(*connecting) if listener]
    waiting = [asyncio.ensure_future(ready.wait()) for ready in readies]
    if waiting:
        await asyncio.wait(waiting, timeout=_READY_TIMEOUT_SECONDS)
    print(f"ready {sum(listener.has_snapshot for listener in listeners)}", flush=True)
    # Until the parent closes our stdin: reading it in a thread keeps the loop free.
    await asyncio.to_thread(sys.stdin.read)
    for listener in listeners:
        listener.end()
    print(
        json.dumps(
            {
                "streams": streams,
                "delays_ms": [round(delay, 1) for delay in totals.delays_ms],
                "per_listener": totals.per_listener,
                "dropped": totals.dropped,
                "closed": totals.closed,
                "failed": totals.failed,
                "reads": totals.reads,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    uvloop.run(_main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
