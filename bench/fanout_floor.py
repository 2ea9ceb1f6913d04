"""The live seat map's fan-out with nothing but its writes: what any stream server pays here.

    python -m bench.fanout_floor PORT

A stand-in for the stream server in (g) (`BENCH_STREAM_SERVER=floor`), not a server of the
product. It answers `GET /api/v1/sessions/{id}/seats/stream` on 127.0.0.1:PORT with a bare
`snapshot` event, then does what the hub does per change and nothing else: one `XREAD BLOCK`
on the sessions' seat streams, the same pause after news (`SSE_FAN_OUT_SECONDS`), and the news
rendered once (the hub's `render`) and written to every connection of its session, a plain
loop of `send` calls on non-blocking sockets. No HTTP framing, no coroutine, no metrics, no
queues: the system calls, the loopback delivery and the listeners' reads are what is left,
which a compiled fan-out would pay too.
So the rush's tail beside this stand-in is the floor of what 1,000 watchers cost it on the
machine's cores, and the tail beside the real stream server the floor plus its own code.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time

import django
import redis
from django.conf import settings

from apps.bookings.seat_stream import session_of, stream_key
from apps.bookings.seat_stream_hub import render

_PATH = re.compile(rb"^GET /api/v1/sessions/(\d+)/seats/stream ")
_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n"
_BLOCK_MS = 100


class Connections:
    """The open connections of each session, and each session's cursor in its stream."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.by_session: dict[int, list[socket.socket]] = {}
        self.cursors: dict[bytes, bytes] = {}

    def add(self, session_id: int, conn: socket.socket) -> None:
        key = stream_key(session_id).encode()
        with self.lock:
            if key not in self.cursors:
                newest = self.client.xrevrange(key, count=1)
                self.cursors[key] = newest[0][0] if newest else b"0-0"
            self.by_session.setdefault(session_id, []).append(conn)


def _accept(server: socket.socket, connections: Connections) -> None:
    while True:
        conn, _ = server.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(4096)
            if not data:
                break
            request += data
        match = _PATH.match(request)
        if match is None:  # the stack's readiness check asks for /health
            ok = request.startswith(b"GET /health ")
            conn.sendall(
                b"HTTP/1.1 %s\r\ncontent-length: 0\r\n\r\n" % (b"200 OK" if ok else b"404")
            )
            conn.close()
            continue
        conn.sendall(_HEAD + b"id: 0-0\nevent: snapshot\ndata: {}\n\n")
        conn.setblocking(False)
        connections.add(int(match[1]), conn)


def _fan_out(connections: Connections) -> None:
    client = connections.client
    pause = settings.SSE_FAN_OUT_SECONDS  # the stream server's own pause after news
    while True:
        with connections.lock:
            streams = dict(connections.cursors)
        if not streams:
            time.sleep(0.1)
            continue
        if not client.xread(streams, count=500, block=_BLOCK_MS):
            continue
        time.sleep(pause)
        for key, entries in client.xread(streams, count=500):
            # Rendered once per change as the stream server renders it, not per write.
            chunk = b"".join(render(entry_id, fields).chunk for entry_id, fields in entries)
            session_id = session_of(key)
            with connections.lock:
                connections.cursors[key] = entries[-1][0]
                targets = list(connections.by_session.get(session_id, ()))
            for conn in targets:
                try:  # noqa: SIM105 (a context manager per write would be a cost of its own)
                    conn.send(chunk)
                except (BlockingIOError, OSError):
                    pass  # a listener that does not keep up only misses events here


def main(port: int) -> None:
    django.setup()  # the stack's settings: its Redis, its fan-out pause
    client = redis.Redis.from_url(settings.REDIS_URL)
    connections = Connections(client)
    server = socket.create_server(("127.0.0.1", port), backlog=1024)
    threading.Thread(target=_accept, args=(server, connections), daemon=True).start()
    _fan_out(connections)


if __name__ == "__main__":
    main(int(sys.argv[1]))
