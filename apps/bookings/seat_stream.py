"""The live seat map's feed: one Redis Stream per session, written once a change has committed.

Each entry is one committed change: `seats` (JSON `[{"id", "status"}]`) and `t` (the commit time,
Unix seconds, for the delivery-latency metric); or `end` (a reason) when the session is cancelled.
The entry id is the SSE event id that clients resume from. The stream keeps about
`SEAT_STREAM_MAXLEN` entries and vanishes a day after its last change.

Publishing never fails a write: it runs after the commit, and with Redis unreachable the change
is only missing from the stream (the seat map itself stays exact); listeners then resume with a
fresh snapshot (seat_stream_hub). The stream server's side is seat_stream_hub and stream_views.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from . import seat_map_cache

logger = logging.getLogger(__name__)

HELD = "held"
AVAILABLE = "available"
SOLD = "sold"

# A stream outlives its last change by a day: a session's buyers reconnect within minutes.
_KEEP_SECONDS = 86400


def stream_key(session_id: int) -> str:
    # The seat map's hash tag: a session's keys share one slot, should Redis ever be clustered.
    return f"cinema:seatstream:{{s{session_id}}}"


def session_of(key: bytes | str) -> int:
    """The session id of a stream key."""
    if isinstance(key, bytes):
        key = key.decode()
    return int(key[key.index("{s") + 2 : key.index("}")])


def _entry(seat_ids: list[int], status: str) -> dict[str, bytes | str]:
    seats = [{"id": seat_id, "status": status} for seat_id in seat_ids]
    return {"seats": json.dumps(seats, separators=(",", ":")), "t": repr(time.time())}


def committed(session_id: int, seat_ids: list[int], status: str | None) -> None:
    """Once a write has committed: move the seat map's cache version on and, when `status` is
    given, announce the seats' new status on the session's stream; one round trip to Redis."""
    try:
        with get_redis_connection("default").pipeline(transaction=False) as pipe:
            seat_map_cache.queue_change(pipe, session_id)
            if status is not None and seat_ids:
                _add(pipe, session_id, _entry(seat_ids, status))
            pipe.execute()
    except RedisError as exc:
        logger.warning("could not publish the seat change of session %s: %s", session_id, exc)


def publish(session_id: int, seat_ids: list[int], status: str) -> None:
    """Announce a change on the session's stream alone (no cache involved)."""
    _execute(session_id, _entry(seat_ids, status))


def session_ended(session_id: int, reason: str) -> None:
    """Once a session's cancellation has committed: its listeners get `end` and are closed."""
    _execute(session_id, {"end": reason, "t": repr(time.time())})


def _add(pipe, session_id: int, fields: dict) -> None:
    key = stream_key(session_id)
    pipe.xadd(key, fields, maxlen=settings.SEAT_STREAM_MAXLEN, approximate=True)
    pipe.expire(key, _KEEP_SECONDS)


def _execute(session_id: int, fields: dict) -> None:
    try:
        with get_redis_connection("default").pipeline(transaction=False) as pipe:
            _add(pipe, session_id, fields)
            pipe.execute()
    except RedisError as exc:
        logger.warning("could not publish on the seat stream of session %s: %s", session_id, exc)
