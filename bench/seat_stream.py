"""The live seat map under load: many open streams on ONE stream server (`make stream`, uvicorn)
while seat changes are published; reports delivery latency and the server's memory per stream.

    .venv/bin/python -m bench.seat_stream

It starts its own stream server on BENCH_STREAM_PORT (8710) against DATABASE_URL / REDIS_URL
(the session must exist: BENCH_STREAM_SESSION, default the first scheduled one), opens
BENCH_STREAMS (1000) streams as raw asyncio connections, then publishes BENCH_STREAM_CHANGES
(200) changes through the same function the booking services use (apps.bookings.seat_stream),
BENCH_STREAM_RATE (50) a second. Latency is from the publish call to the event read by a client
(every client, every change), so it includes this process's own reading; memory per stream is the
server's RSS growth divided by the streams opened. It reports figures and never fails on a time.

Scenario (g) of `make bench` runs the same during a rush (bench/stream_listeners.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass
class StreamResult:
    streams: int
    changes: int
    delivered: int
    expected: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    rss_idle_kib: int
    rss_open_kib: int
    threads_idle: int
    threads_open: int
    server_cpu_s: float  # the stream server's CPU from the first change to the last delivery

    @property
    def kib_per_stream(self) -> float:
        return (self.rss_open_kib - self.rss_idle_kib) / max(1, self.streams)

    def report(self) -> str:
        return (
            f"{self.streams} streams, {self.changes} changes: delivered "
            f"{self.delivered}/{self.expected}; latency p50 {self.p50_ms} ms, "
            f"p99 {self.p99_ms} ms, max {self.max_ms} ms; server RSS "
            f"{self.rss_idle_kib} KiB idle, {self.rss_open_kib} KiB with the streams open "
            f"({self.kib_per_stream:.1f} KiB a stream); threads {self.threads_idle} idle, "
            f"{self.threads_open} with the streams open; server CPU {self.server_cpu_s:.2f} s "
            f"({self.server_cpu_s * 1e6 / max(1, self.delivered):.0f} us an event delivered)"
        )


def _tree_sum(pid: int, own: Callable[[int], float]) -> float:
    """`own(pid)` summed over the process tree under `pid` (make, its shell, uvicorn). Processes
    and threads come and go while it reads: one that ended counts for nothing."""
    try:
        total = own(pid)
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return 0
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        total += sum(_tree_sum(int(child), own) for child in children)
    return total


def _status_field(field: str) -> Callable[[int], float]:
    """A process's /proc status field (e.g. VmRSS in KiB, Threads)."""

    def own(pid: int) -> float:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        return sum(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))

    return own


def _own_cpu_seconds(pid: int) -> float:
    """A process's user + system CPU (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    return int(_tree_sum(pid, _status_field("VmRSS")))


def _threads(pid: int) -> int:
    return int(_tree_sum(pid, _status_field("Threads")))


def _cpu_seconds(pid: int) -> float:
    return _tree_sum(pid, _own_cpu_seconds)


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000, 1)


async def _client(
    port: int, path: str, opened: asyncio.Event, received: list[tuple[int, float]], done: int
) -> None:
    # A snapshot is one line of data: about 100 KB for a 1,040-seat room.
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    seen = 0
    try:
        while seen < done:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"event: snapshot"):
                opened.set()
            elif line.startswith(b'data: {"seats"'):
                marker = json.loads(line[6:])["seats"][0]["id"]
                received.append((marker, time.time()))
                seen += 1
    finally:
        writer.close()


async def _scenario(port: int, session_id: int, streams: int, changes: int, rate: float, pid: int):
    from apps.bookings import seat_stream

    path = f"/api/v1/sessions/{session_id}/seats/stream"
    received: list[tuple[int, float]] = []
    rss_idle, threads_idle = _rss_kib(pid), _threads(pid)
    openings = [asyncio.Event() for _ in range(streams)]
    tasks = []
    for event in openings:
        tasks.append(asyncio.create_task(_client(port, path, event, received, changes)))
        if len(tasks) % 100 == 0:
            await asyncio.sleep(0.05)  # connect in waves, as a crowd does
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in openings)), timeout=120)
    await asyncio.sleep(1)
    rss_open, threads_open = _rss_kib(pid), _threads(pid)
    published: dict[int, float] = {}
    cpu_before = _cpu_seconds(pid)
    for marker in range(1, changes + 1):
        published[marker] = time.time()
        await asyncio.to_thread(seat_stream.publish, session_id, [marker], "held")
        await asyncio.sleep(1 / rate)
    await asyncio.wait(tasks, timeout=30)
    server_cpu = _cpu_seconds(pid) - cpu_before
    latencies = [at - published[marker] for marker, at in received if marker in published]
    return StreamResult(
        streams=streams,
        changes=changes,
        delivered=len(received),
        expected=streams * changes,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=_percentile(latencies, 1.0),
        rss_idle_kib=rss_idle,
        rss_open_kib=rss_open,
        threads_idle=threads_idle,
        threads_open=threads_open,
        server_cpu_s=server_cpu,
    )


def run(
    *, streams: int, changes: int, rate: float, port: int, session_id: int | None = None
) -> StreamResult:
    """Start a stream server, run the scenario against it, stop it; the environment (database,
    Redis) is this process's."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cinema.settings.base")
    django.setup()
    from apps.sessions.models import Session

    if session_id is None:
        session_id = (
            Session.objects.filter(status="scheduled")
            .order_by("starts_at")
            .values_list("id", flat=True)
            .first()
        )
        if session_id is None:
            raise SystemExit("no scheduled session: run `make seed` (or set BENCH_STREAM_SESSION)")
    env = {
        **os.environ,
        "SSE_MAX_STREAMS_PER_IP": str(streams + 10),
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        ["make", "--no-print-directory", "stream", f"STREAM_BIND=127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the stream server did not start") from None
                time.sleep(0.2)
        return asyncio.run(_scenario(port, session_id, streams, changes, rate, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    session = os.environ.get("BENCH_STREAM_SESSION")
    result = run(
        streams=int(os.environ.get("BENCH_STREAMS", "1000")),
        changes=int(os.environ.get("BENCH_STREAM_CHANGES", "200")),
        rate=float(os.environ.get("BENCH_STREAM_RATE", "50")),
        port=int(os.environ.get("BENCH_STREAM_PORT", "8710")),
        session_id=int(session) if session else None,
    )
    print(result.report())


if __name__ == "__main__":
    main()
