"""The rendered seat map of each session, kept in Redis until it can change.

A map changes when a hold is made, cancelled, expired or paid (each of those calls `changed()`
once committed, which moves the session's version on) and when a hold reaches its deadline,
which nobody announces: so an entry is also dropped, by Redis, just before the earliest deadline
among the holds it shows. A reader stores what it built under the version it read *before*
querying, so a map built from a snapshot older than a write is never served after that write.

Redis is a fast path here too: when it cannot answer, maps are built from the database. Should
a version bump be lost that way while reads still work, an entry outlives it by at most
`SEAT_MAP_CACHE_SECONDS`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django_redis import get_redis_connection
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Expiry is relative, so it runs on Redis's clock and no skew between hosts can stretch it; the
# margin covers the trip of the SET command itself.
_MARGIN_MS = 1


def _keys(session_id: int) -> tuple[str, str]:
    # One hash tag per session: both keys live in one slot, should Redis ever be clustered.
    return f"cinema:seatmap:{{s{session_id}}}:version", f"cinema:seatmap:{{s{session_id}}}:body"


@dataclass(frozen=True)
class Cached:
    body: bytes | None  # the map as JSON, when the entry is current
    version: bytes | None  # the version read, to store a fresh map under; None: do not store


def read(session_id: int) -> Cached:
    version_key, body_key = _keys(session_id)
    try:
        version, entry = get_redis_connection("default").mget(version_key, body_key)
    except RedisError as exc:
        logger.warning("seat map cache unavailable: %s", exc)
        return Cached(body=None, version=None)
    version = version or b"0"
    if entry:
        entry_version, _, body = entry.partition(b"|")
        if entry_version == version:
            return Cached(body=body, version=version)
    return Cached(body=None, version=version)


def store(session_id: int, cached: Cached, body: bytes, *, valid_until: datetime | None) -> None:
    """Keep `body`, built after `cached` was read, until the next hold deadline it shows."""
    if cached.version is None:
        return
    ttl_ms = settings.SEAT_MAP_CACHE_SECONDS * 1000
    if valid_until is not None:
        ttl_ms = min(ttl_ms, (valid_until - timezone.now()).total_seconds() * 1000 - _MARGIN_MS)
    if ttl_ms < 1:
        return
    try:
        get_redis_connection("default").set(
            _keys(session_id)[1], cached.version + b"|" + body, px=int(ttl_ms)
        )
    except RedisError as exc:
        logger.warning("could not cache the seat map of session %s: %s", session_id, exc)


def changed(session_id: int) -> None:
    """Call once a write that changes seat statuses has committed."""
    version_key = _keys(session_id)[0]
    try:
        with get_redis_connection("default").pipeline(transaction=False) as pipe:
            pipe.incr(version_key)
            pipe.expire(version_key, 86400)
            pipe.execute()
    except RedisError as exc:
        logger.warning("could not mark the seat map of session %s changed: %s", session_id, exc)
