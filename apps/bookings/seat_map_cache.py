"""The rendered seat map of each session, kept in Redis until it can change.

A map changes when a hold is made, cancelled, expired or paid (each of those calls `changed()`
once committed, which moves the session's version on) and when a hold reaches its deadline,
which nobody announces: so an entry is also dropped, by Redis, just before the earliest deadline
among the holds it shows. A reader stores what it built under the version it read *before*
querying, so a map built from a snapshot older than a write is never served after that write.

When a change drops the entry, the readers that arrive together would all build the same map:
one of them claims the build (per version) and the others wait a moment for its result.

Redis is a fast path here too: when it cannot answer, maps are built from the database. Should
a version bump be lost that way while reads still work, an entry outlives it by at most
`SEAT_MAP_CACHE_SECONDS`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django_redis import get_redis_connection
from redis.client import Pipeline
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Expiry is relative, so it runs on Redis's clock and no skew between hosts can stretch it; the
# margin covers the trip of the SET command itself.
_MARGIN_MS = 1


# How long the other readers wait for the one building a version, polling at growing intervals
# (a build takes tens of milliseconds under load); after that they build it themselves.
_BUILD_WAIT_SECONDS = 0.5
_POLL_SECONDS = (0.005, 0.01, 0.02, 0.03, 0.05)


# Part of the body's key: a release that changes the map's shape never serves an older body.
BODY_FORMAT = 3


def _keys(session_id: int) -> tuple[str, str]:
    # One hash tag per session: both keys live in one slot, should Redis ever be clustered.
    return (
        f"cinema:seatmap:{{s{session_id}}}:version",
        f"cinema:seatmap:{{s{session_id}}}:body:v{BODY_FORMAT}",
    )


def _build_key(session_id: int, version: bytes) -> str:
    return f"cinema:seatmap:{{s{session_id}}}:building:{version.decode()}"


@dataclass(frozen=True)
class Cached:
    body: bytes | None  # the map as JSON, when the entry is current
    version: bytes | None  # the version read, to store a fresh map under; None: do not store
    etag: str | None = None  # the body's, computed once when it was built


def _current(version: bytes | None, entry: bytes | None) -> Cached:
    """What the version key and the entry (`<version>|<etag>|<body>`) read together say."""
    version = version or b"0"
    if entry:
        entry_version, _, rest = entry.partition(b"|")
        if entry_version == version:
            etag, _, body = rest.partition(b"|")
            return Cached(body=body, version=version, etag=etag.decode())
    return Cached(body=None, version=version)


def read(session_id: int) -> Cached:
    try:
        return _current(*get_redis_connection("default").mget(*_keys(session_id)))
    except RedisError as exc:
        logger.warning("seat map cache unavailable: %s", exc)
        return Cached(body=None, version=None)


def claim_build(session_id: int, cached: Cached) -> bool:
    """True for the one reader that should build this version (or when Redis cannot say)."""
    if cached.version is None:
        return True
    try:  # expires by itself should the builder die; waiters stop waiting well before
        return bool(
            get_redis_connection("default").set(
                _build_key(session_id, cached.version), b"1", nx=True, px=1000
            )
        )
    except RedisError:
        return True


def wait_for_build(session_id: int, cached: Cached) -> Cached | None:
    """The map another reader is building for this version, or None if it does not come in
    time or a newer write made it pointless."""
    keys = (*_keys(session_id), _build_key(session_id, cached.version))
    deadline = time.monotonic() + _BUILD_WAIT_SECONDS
    attempt = 0
    while time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS[min(attempt, len(_POLL_SECONDS) - 1)])
        attempt += 1
        try:
            version, entry, building = get_redis_connection("default").mget(*keys)
        except RedisError:
            return None
        now = _current(version, entry)
        if now.version != cached.version:
            return None  # a newer write: this version's map is of no use
        if now.body is not None:
            return now
        if not building:
            return None  # the builder stored nothing (no such session) or failed
    return None


def end_build(session_id: int, cached: Cached) -> None:
    """Release the claim: waiting readers take the stored map, or build one themselves when
    none was stored (no such session, or a deadline already passed)."""
    if cached.version is None:
        return
    try:
        get_redis_connection("default").delete(_build_key(session_id, cached.version))
    except RedisError as exc:
        logger.warning("could not end the seat map build of %s: %s", session_id, exc)


def store(
    session_id: int, cached: Cached, body: bytes, etag: str, *, valid_until: datetime | None
) -> None:
    """Keep `body` (and its ETag), built after `cached` was read, until the next hold deadline
    it shows."""
    if cached.version is None:
        return
    ttl_ms = settings.SEAT_MAP_CACHE_SECONDS * 1000
    if valid_until is not None:
        ttl_ms = min(ttl_ms, (valid_until - timezone.now()).total_seconds() * 1000 - _MARGIN_MS)
    if ttl_ms < 1:
        return
    try:
        get_redis_connection("default").set(
            _keys(session_id)[1],
            b"|".join((cached.version, etag.encode(), body)),
            px=int(ttl_ms),
        )
    except RedisError as exc:
        logger.warning("could not cache the seat map of session %s: %s", session_id, exc)


def queue_change(pipe: Pipeline, session_id: int) -> None:
    """Add the version bump of a committed change to `pipe` (sent with what else runs on commit;
    see seat_stream.committed)."""
    version_key = _keys(session_id)[0]
    pipe.incr(version_key)
    pipe.expire(version_key, 86400)


def changed(session_id: int) -> None:
    """Call once a write that changes seat statuses has committed."""
    try:
        with get_redis_connection("default").pipeline(transaction=False) as pipe:
            queue_change(pipe, session_id)
            pipe.execute()
    except RedisError as exc:
        logger.warning("could not mark the seat map of session %s changed: %s", session_id, exc)
