"""Many listeners of one session's live seat map, in one process: the buyers who watch a rush.

    python -m bench.stream_listeners PORT SESSION_ID STREAMS

Opens STREAMS streams (`GET /api/v1/sessions/{id}/seats/stream`) to the stream server on PORT as
raw asyncio connections (uvloop), in waves of 100 as a crowd arrives, and prints `ready N` once N
of them have their snapshot (or after 120 s). It then reads every stream until stdin closes, and
prints one JSON line: for every `seats` event read by every listener, the delay from the event's
commit to its arrival; the events each listener read; drops and early closes.

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


async def _listen(port: int, path: str, ready: asyncio.Event, totals: Totals) -> None:
    """One listener, until the server ends its stream or the task is cancelled."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        totals.failed += 1
        ready.set()
        return
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    seen = 0
    pending = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                totals.closed += 1
                return
            arrived_ms = time.time() * 1000
            pending += chunk
            cut = pending.rfind(b"\n\n")
            if cut < 0:
                continue
            complete, pending = pending[: cut + 2], pending[cut + 2 :]
            for match in _EVENT.finditer(complete):
                kind = match[2]
                if kind == b"seats":
                    totals.delays_ms.append(arrived_ms - int(match[1]))
                    seen += 1
                elif kind == b"snapshot":
                    ready.set()
                elif kind == b"dropped":
                    totals.dropped += 1
                    return
    finally:
        ready.set()
        totals.per_listener.append(seen)
        writer.close()


async def _main(port: int, session_id: int, streams: int) -> None:
    path = f"/api/v1/sessions/{session_id}/seats/stream"
    totals = Totals()
    readies = [asyncio.Event() for _ in range(streams)]
    tasks = []
    for index, ready in enumerate(readies):
        tasks.append(asyncio.create_task(_listen(port, path, ready, totals)))
        if (index + 1) % _WAVE == 0:
            await asyncio.sleep(0.05)
    waiting = [asyncio.ensure_future(ready.wait()) for ready in readies]
    await asyncio.wait(waiting, timeout=_READY_TIMEOUT_SECONDS)
    print(f"ready {sum(ready.is_set() for ready in readies)}", flush=True)
    # Until the parent closes our stdin: reading it in a thread keeps the loop free.
    await asyncio.to_thread(sys.stdin.read)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(
        json.dumps(
            {
                "streams": streams,
                "delays_ms": [round(delay, 1) for delay in totals.delays_ms],
                "per_listener": totals.per_listener,
                "dropped": totals.dropped,
                "closed": totals.closed,
                "failed": totals.failed,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    uvloop.run(_main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
