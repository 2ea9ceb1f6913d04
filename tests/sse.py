"""An EventSource-like client of the live seat map stream, for tests: it reads a stream on a
thread of its own and hands over each event (comments included) through a queue."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass

import httpx

# A committed change reaches a connected listener within this (measured: tens of milliseconds).
DELIVERY_BOUND = 2.0


@dataclass
class SSE:
    event: str  # "comment" for a comment line
    data: str
    id: str | None = None

    def json(self):
        return json.loads(self.data)


class Listener:
    """An EventSource-like client on its own thread: every event it reads goes on a queue."""

    def __init__(self, url: str, *, last_event_id: str | None = None) -> None:
        self.events: queue.Queue[SSE | None] = queue.Queue()
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self._ready = threading.Event()
        self._socket: socket.socket | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=60))
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "no answer from the stream server"

    def _run(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
                self.status = response.status_code
                self.headers = dict(response.headers)
                self._ready.set()
                if response.status_code != 200:
                    self.body = response.read()
                    return
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.events.put(SSE("comment", line[1:].strip()))
                    elif line:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                    elif fields:
                        self.events.put(
                            SSE(
                                fields.get("event", "message"),
                                fields.get("data", ""),
                                fields.get("id"),
                            )
                        )
                        fields = {}
        except httpx.HTTPError:
            pass
        finally:
            self._ready.set()
            self.events.put(None)  # the end of the stream

    def next(self, timeout: float = DELIVERY_BOUND, *, comments: bool = False) -> SSE | None:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if event is None or comments or event.event != "comment":
                return event

    def close(self) -> None:
        """Hang up, as a browser tab closing does (the server sees the connection end)."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._client.close()


def stream_url(base: str, session_id: int) -> str:
    return f"{base}/api/v1/sessions/{session_id}/seats/stream"


def changes(event: SSE) -> dict[int, str]:
    assert event.event == "seats", event
    return {seat["id"]: seat["status"] for seat in event.json()["seats"]}


def event_id(event: SSE) -> tuple[int, int]:
    ms, _, seq = event.id.partition("-")
    return int(ms), int(seq)
