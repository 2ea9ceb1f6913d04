"""GET /api/v1/sessions/{id}/seats/stream: the live seat map as server-sent events.

Served by the ASGI stream server (`make stream`; uvicorn) through `seat_stream_app`: an open
stream is a coroutine waiting on its queue, never a thread. Database and cache reads at connect
time run in the loop's thread pool (sync_to_async); after that a stream only waits for events
from this process's hub (seat_stream_hub), which alone reads Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Coroutine
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from redis.exceptions import RedisError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.api.openapi import problems
from apps.core.problems import PROBLEM_CONTENT_TYPE, problem_body, problem_json_response
from apps.sessions.models import Session

from . import metrics
from .seat_map import seat_map_json
from .seat_stream_hub import Listener, StreamId, Write, format_id, hub, parse_id, valid_id

logger = logging.getLogger(__name__)

# A dropped client that does not even take its `dropped` event is cut off after this long.
_DROP_GRACE_SECONDS = 5.0

# Open streams per client IP in this process.
_open_by_ip: Counter[str] = Counter()


def _session_terms(session_id: int) -> tuple[str, datetime] | None:
    """(status, starts_at) of the session, or None; in a thread, on a connection closed after."""
    try:
        row = Session.objects.filter(pk=session_id).values_list("status", "starts_at").first()
        return row
    finally:
        connection.close()


def _snapshot_event(session_id: int, event_id: str) -> bytes | None:
    """The `snapshot` event, or None (no such session)."""
    try:
        body = seat_map_json(session_id)
        return None if body is None else _sse("snapshot", body, event_id)
    finally:
        close_old_connections()
        connection.close()


class _SharedSnapshots:
    """The `snapshot` event of each session, built once for the streams that open together.

    A crowd opens its streams within seconds of each other, mostly while the session's stream
    has not moved: each of them would build the same ~100 KB map, and the allocator keeps the
    high-water mark of those transient copies (measured: about 20 KiB of resident memory per
    open stream). A snapshot taken after reading the stream's last id `top` shows every change
    up to `top`, so it serves any stream that subscribed at that same `top`: what came later
    reaches it as `seats` events. It is shared for at most `_SHARE_SECONDS`, so that a change
    whose publication was lost (Redis unreachable at its commit) is not hidden for longer than
    the one fresh build would have shown it.
    """

    _SHARE_SECONDS = 1.0
    _SESSIONS = 64  # the sessions whose latest snapshot is kept (about 100 KB each at most)

    def __init__(self) -> None:
        self._latest: OrderedDict[int, tuple[StreamId, float, asyncio.Future]] = OrderedDict()

    async def get(self, session_id: int, top: StreamId) -> bytes | None:
        """The snapshot event for a stream subscribed at `top`, or None (no such session)."""
        now = time.monotonic()
        entry = self._latest.get(session_id)
        if entry is None or entry[0] != top or now - entry[1] > self._SHARE_SECONDS:
            build = sync_to_async(_snapshot_event, thread_sensitive=False)
            metrics.SEAT_STREAM_SNAPSHOTS_BUILT.inc()
            entry = (top, now, asyncio.ensure_future(build(session_id, format_id(top))))
            self._latest[session_id] = entry
            while len(self._latest) > self._SESSIONS:
                self._latest.popitem(last=False)
        self._latest.move_to_end(session_id)
        try:
            # Shielded: one stream that goes away does not cancel the others' snapshot.
            return await asyncio.shield(entry[2])
        except Exception:
            if self._latest.get(session_id) is entry:
                del self._latest[session_id]  # a failed build is retried by the next stream
            raise


_snapshots = _SharedSnapshots()


def _dropped_data(reason: str, last_event_id: str) -> bytes:
    return json.dumps({"reason": reason, "last_event_id": last_event_id}).encode()


def _sse(event: str, data: bytes, event_id: str | None = None) -> bytes:
    head = b"id: %s\n" % event_id.encode() if event_id is not None else b""
    return head + b"event: %s\ndata: %s\n\n" % (event.encode(), data)


async def _events(
    session_id: int, starts_at: datetime, last_event_id: str | None, ip: str, write: Write
) -> AsyncIterator[bytes]:
    """The stream's body: snapshot or replay, then every change until the session starts or
    ends, with a comment line while nothing happens. What it yields is written by its caller;
    `write` writes a chunk the same way, for the hub's writes while the stream waits."""
    the_hub = hub()
    listener = Listener(session_id)
    task = asyncio.current_task()
    cutoff: asyncio.TimerHandle | None = None
    _open_by_ip[ip] += 1
    metrics.SEAT_STREAMS_OPEN.inc()
    try:
        replay = None
        try:
            top = await the_hub.last_id(session_id)
            the_hub.subscribe(listener, top)  # first: from here on nothing after top is missed
            if last_event_id is not None and valid_id(last_event_id):
                replay = await the_hub.entries_after(session_id, parse_id(last_event_id))
        except (RedisError, OSError) as exc:
            # No feed to follow: say so at once; the client retries with its Last-Event-ID.
            logger.warning("seat stream of session %s: Redis unavailable: %s", session_id, exc)
            listener.drop("unavailable")
            yield _sse("dropped", _dropped_data("unavailable", last_event_id or ""))
            metrics.SEAT_STREAM_EVENTS.labels(event="dropped").inc()
            return
        if replay is None:
            snapshot = await _snapshots.get(session_id, top)
            if snapshot is None:
                return
            yield snapshot
            del snapshot  # shared for a second only, not kept as long as the stream
            metrics.SEAT_STREAM_EVENTS.labels(event="snapshot").inc()
            sent = top
        else:
            sent = parse_id(last_event_id)
            for event in replay:
                yield event.chunk
                metrics.SEAT_STREAM_EVENTS.labels(event="end" if event.end else "seats").inc()
                sent = event.id
                if event.end:
                    return
        keepalive = settings.SSE_KEEPALIVE_SECONDS
        loop = asyncio.get_running_loop()
        # The session's start on the loop's clock (what the listener's alarm is set on).
        starts = loop.time() + (starts_at.timestamp() - time.time())
        # From here the hub writes events itself while this coroutine waits (Listener).
        listener.go_live(write, sent, loop.time())
        deliveries = the_hub.deliveries
        while True:
            if loop.time() >= starts:
                yield _sse("end", b'{"reason": "session_started"}')
                metrics.SEAT_STREAM_EVENTS.labels(event="end").inc()
                return
            events = await listener.take(min(listener.written_at + keepalive, starts))
            if events is None and cutoff is None:
                # A client too slow to take even its `dropped` event (or the write before it)
                # is cut off (its task cancelled).
                cutoff = loop.call_later(_DROP_GRACE_SECONDS, task.cancel)
            finished = await listener.finish_write()
            if finished:
                deliveries.written(finished)
                deliveries.flush()
            if events is None:  # dropped by the hub
                reason = listener.dropped or ""
                yield _sse("dropped", _dropped_data(reason, format_id(listener.sent)))
                metrics.SEAT_STREAM_EVENTS.labels(event="dropped").inc()
                return
            if not events:  # nothing came in time, or only a write to finish
                if listener.written_at + keepalive <= loop.time() < starts:
                    yield b": keep-alive\n\n"
                    listener.written_at = loop.time()
                continue
            # What queued up while the client was being written to goes out in one write.
            fresh = [event for event in events if event.id > listener.sent]  # older: replayed
            if not fresh:
                continue
            yield b"".join(event.chunk for event in fresh)
            listener.wrote(fresh, loop.time())
            deliveries.written(fresh)
            deliveries.flush()
            if fresh[-1].end:  # `end` is a stream's last entry
                metrics.SEAT_STREAM_EVENTS.labels(event="end").inc()
                return
    finally:
        if cutoff is not None:
            cutoff.cancel()
        listener.close()
        the_hub.unsubscribe(listener)
        metrics.SEAT_STREAMS_OPEN.dec()
        _open_by_ip[ip] -= 1
        if _open_by_ip[ip] <= 0:
            del _open_by_ip[ip]


# --- The ASGI app of the stream path ----------------------------------------------------------
# The stream server (cinema/asgi.py) hands this path to `seat_stream_app` before Django's
# handler: that handler gives every request a thread of its own for its synchronous parts
# (middleware, request signals) and keeps it until the response ends, which for a stream would
# be one idle thread per open stream. Here a stream is only a coroutine; the one blocking read
# (the session) runs in the loop's shared thread pool.
_STREAM_PATH = re.compile(r"^/api/v1/sessions/(\d{1,18})/seats/stream$")


def stream_session(path: str) -> int | None:
    """The session id if `path` is the stream's, else None."""
    match = _STREAM_PATH.match(path)
    return int(match.group(1)) if match else None


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _client_ip(scope: dict, headers: dict[str, str]) -> str:
    """The address the rate limits count (DRF's rule: NUM_PROXIES hops of X-Forwarded-For)."""
    meta = {"REMOTE_ADDR": (scope.get("client") or ("",))[0]}
    return BaseThrottle().get_ident(SimpleNamespace(META=meta, headers=headers))


def _language(headers: dict[str, str]) -> str:
    """The language Django would pick for these headers (its public negotiation)."""
    request = HttpRequest()
    request.META["HTTP_ACCEPT_LANGUAGE"] = headers.get("accept-language", "")
    return translation.get_language_from_request(request)


async def _answer(send, status: int, body: bytes = b"", content_type: str | None = None) -> None:
    headers = [(b"content-type", content_type.encode())] if content_type else []
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _problem(send, path: str, headers: dict, status: int, code: str, message: str) -> None:
    with translation.override(_language(headers)):
        body = problem_body(status=status, code=code, detail=_(message), instance=path)
    await _answer(send, status, json.dumps(body).encode(), PROBLEM_CONTENT_TYPE)


async def _until_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_all(send, write: Write, chunks: AsyncIterator[bytes]) -> None:
    async with contextlib.aclosing(chunks) as body:
        async for chunk in body:
            await write(chunk)
            # Not kept while the stream waits for its next event: the snapshot is ~100 KB.
            del chunk
    await send({"type": "http.response.body", "body": b""})


async def seat_stream_app(scope: dict, receive, send, session_id: int) -> None:
    """GET /api/v1/sessions/{id}/seats/stream, as documented on SeatMapStreamSchema."""
    headers = _headers(scope)
    path = scope["path"]
    if scope["method"] != "GET":
        await _problem(send, path, headers, 405, "method_not_allowed", "Method not allowed.")
        return
    terms = await sync_to_async(_session_terms, thread_sensitive=False)(session_id)
    if terms is None:
        await _problem(send, path, headers, 404, "not_found", "Session not found.")
        return
    status, starts_at = terms
    if status == Session.Status.CANCELLED or starts_at <= timezone.now():
        await _answer(send, 204)
        return
    ip = _client_ip(scope, headers)
    if _open_by_ip[ip] >= settings.SSE_MAX_STREAMS_PER_IP:
        metrics.SEAT_STREAM_REFUSED.inc()
        message = "Too many open streams from this address."
        await _problem(send, path, headers, 429, "too_many_streams", message)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
            ],
        }
    )

    def write(chunk: bytes) -> Coroutine[Any, Any, None]:
        return send({"type": "http.response.body", "body": chunk, "more_body": True})

    events = _events(session_id, starts_at, headers.get("last-event-id"), ip, write)
    streaming = asyncio.create_task(_send_all(send, write, events))
    hang_up = asyncio.create_task(_until_disconnect(receive))
    await asyncio.wait({streaming, hang_up}, return_when=asyncio.FIRST_COMPLETED)
    for task in (streaming, hang_up):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # a stream cut off (a client gone, or dropped and not reading) ends here


@require_GET
def seat_map_stream(request: HttpRequest, id: int) -> HttpResponse:
    """The stream's path reached through Django: a WSGI instance (the stream server answers it
    before Django, see seat_stream_app). A routing mistake, said clearly, rather than a worker
    thread held for hours by a response Django would buffer."""
    return problem_json_response(
        status=421,  # Misdirected Request: this server cannot produce the response
        code="stream_server_only",
        detail=_("The live seat map is served by the stream server."),
        request=request,
    )


class SeatMapStreamSchema(APIView):
    """The OpenAPI description of the stream (served by `seat_stream_app`). drf-spectacular
    documents DRF views only, so the Django view of the path points here (`seat_map_stream.cls`,
    as a DRF view's function does); this class is never routed."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        summary="Live seat map (server-sent events)",
        description=(
            "A `text/event-stream`, served by the stream server (ASGI). First an event "
            "`snapshot` whose data is the seat map (as `GET /sessions/{id}/seats`), then an "
            'event `seats` with data `{"seats": [{"id", "status"}]}` for every committed '
            "change: `held` (a hold), `available` (expiry, cancellation, refund), `sold` (a "
            "payment). Event ids increase; reconnect with `Last-Event-ID` to get what was "
            "missed, or a fresh `snapshot` when it is too old. A comment line `: keep-alive` "
            "every 15 s. The stream ends with an event `end` "
            '(`{"reason": "session_started"|"session_cancelled"|"session_moved"}`; moved: staff '
            "gave the session, before any hold, another room or time; reconnecting gets a "
            "snapshot of it as it is now); a client that does not keep "
            'up gets `dropped` (`{"reason", "last_event_id"}`) and should reconnect. A session '
            "that has started or is cancelled answers 204 (an EventSource then stops retrying)."
        ),
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The id of the last event received, to resume after it.",
            )
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR, description="The event stream."
            ),
            204: OpenApiResponse(description="The session has started or is cancelled."),
            **problems(
                404,
                429,
                421,
                s429="`too_many_streams`: the client's address has `SSE_MAX_STREAMS_PER_IP` open.",
                s421="`stream_server_only`: the request reached a WSGI instance, not the stream "
                "server (a routing mistake: nginx sends this path to the stream server).",
            ),
        },
        tags=["sessions"],
        operation_id="session_seats_stream",
    )
    def get(self, request: Request, id: int) -> Response:
        raise NotImplementedError("served by seat_map_stream on the stream server")


seat_map_stream.cls = SeatMapStreamSchema
seat_map_stream.initkwargs = {}
