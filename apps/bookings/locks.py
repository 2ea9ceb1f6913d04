"""The one home of seat locks and their order. Nobody else takes seat locks.

1. Redis fast path: one Lua script takes every requested seat key or none, with an owner token and
   the hold's TTL, so the losers of a rush fail fast without touching PostgreSQL. Keys are only
   ever deleted by their owner (compare-and-delete).
2. PostgreSQL: the session-seat rows are locked in primary-key order (`ORDER BY id FOR UPDATE`),
   each with its session row FOR KEY SHARE in the same statement (so a hold reads the session as a
   correction or a cancellation committed it while the hold waited, never an older copy), then the
   reservations found on them, also in primary-key order, so two transactions can never wait on
   each other in a cycle. A session's correction locks all its seats, in the same order, before its
   session row: it waits for the holds under way, or they wait for it. A hold with half-price seats
   then takes the session's half-price lock (an advisory lock), so the places left are counted
   under it. A sale then takes its session row FOR KEY SHARE, which sales share and a cancellation
   waits for; so does a check-in at the door. The payments app locks a payment (and its sale)
   before the reservation it pays.

Redis is never the only guard: when it is down or slow the fast path reports "unknown" and the
database alone decides.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from apps.core.db import from_row
from apps.core.locking import set_lock_timeout
from apps.rooms.models import Seat
from apps.sessions.models import Session, SessionSeat

from .models import RESERVATION_COLUMNS, Reservation, reservation_from_row

logger = logging.getLogger(__name__)

# KEYS: seat keys. ARGV: owner token, TTL in ms. Returns the 1-based positions of taken keys;
# an empty list means every key now belongs to the owner.
_ACQUIRE = """
local taken = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then taken[#taken + 1] = i end
end
if #taken > 0 then return taken end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
return taken
"""

# KEYS: seat keys. ARGV: owner token. Deletes only the keys the owner still holds.
_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


# KEYS: seat keys. ARGV: owner token, deadline (Unix ms). The owner's keys now end with the hold.
_EXTEND = """
local extended = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIREAT', key, ARGV[2])
    extended = extended + 1
  end
end
return extended
"""

# Keys are first taken for this long only: if the request dies before committing its hold, its
# seats are blocked in Redis for seconds, not for a whole hold time.
IN_FLIGHT_SECONDS = 5


def seat_key(session_id: int, session_seat_id: int) -> str:
    # The hash tag keeps one session's keys in one slot, should Redis ever be clustered.
    return f"cinema:seat:{{s{session_id}}}:{session_seat_id}"


def _redis():
    return get_redis_connection("default")


def acquire_seat_keys(
    *, session_id: int, seat_ids: list[int], owner: uuid.UUID, ttl_seconds: int = IN_FLIGHT_SECONDS
) -> list[int] | None:
    """Take all seat keys at once, for the time a request needs. Returns the seat ids already
    taken ([] = all ours), or None when Redis cannot answer, in which case the caller goes on
    with the database alone. Once the hold commits, `extend_seat_keys` makes them last as long
    as the hold."""
    ordered = sorted(seat_ids)
    keys = [seat_key(session_id, seat_id) for seat_id in ordered]
    try:
        taken = _redis().eval(_ACQUIRE, len(keys), *keys, str(owner), ttl_seconds * 1000)
    except RedisError as exc:
        logger.warning("seat lock fast path unavailable, using the database alone: %s", exc)
        return None
    return [ordered[int(position) - 1] for position in taken]


def extend_seat_keys(
    *, session_id: int, seat_ids: Iterable[int], owner: uuid.UUID, until: datetime
) -> None:
    keys = [seat_key(session_id, seat_id) for seat_id in sorted(seat_ids)]
    try:
        _redis().eval(_EXTEND, len(keys), *keys, str(owner), int(until.timestamp() * 1000))
    except RedisError as exc:
        # The database holds the seats anyway; only the fast path for losers is lost.
        logger.warning("could not extend seat keys of %s: %s", owner, exc)


def release_seat_keys(*, session_id: int, seat_ids: Iterable[int], owner: uuid.UUID) -> None:
    keys = [seat_key(session_id, seat_id) for seat_id in sorted(seat_ids)]
    if not keys:
        return
    try:
        _redis().eval(_RELEASE, len(keys), *keys, str(owner))
    except RedisError as exc:
        # The keys expire with the hold's TTL anyway; the database stays the truth.
        logger.warning("could not release seat keys of %s: %s", owner, exc)


# One statement, without the ORM's query compiler: this runs for every hold of a rush.
_LOCK_SEATS_SQL = """
SELECT ss.id, ss.seat_id, seat.label, ss.category, s.status, s.starts_at, s.ends_at, s.price,
       s.movie_id, s.room_id
FROM {session_seat} ss
JOIN {seat} seat ON seat.id = ss.seat_id
JOIN {session} s ON s.id = ss.session_id
WHERE ss.session_id = %s AND ss.id = ANY(%s)
ORDER BY ss.id
FOR UPDATE OF ss FOR KEY SHARE OF s
"""


def lock_all_session_seats(*, session_id: int) -> None:
    """Lock every seat of the session in primary-key order (a correction of the session, before
    it locks the session row): holds under way finish first, later ones wait for the caller."""
    set_lock_timeout(settings.LOCK_TIMEOUT_SECONDS)
    list(
        SessionSeat.objects.filter(session_id=session_id)
        .order_by("id")
        .select_for_update()
        .values_list("id", flat=True)
    )


def lock_session_seats(*, session_id: int, seat_ids: list[int]) -> list[SessionSeat]:
    """Lock the given seats of the session in primary-key order, waiting at most the lock timeout.

    Must run inside a transaction. Seats that are not of the session are simply not returned.
    Each seat comes with its seat (label) and its session row as it is now, locked FOR KEY
    SHARE: a row changed while this waited is read again as it was committed.
    """
    set_lock_timeout(settings.LOCK_TIMEOUT_SECONDS)
    sql = _LOCK_SEATS_SQL.format(
        session_seat=SessionSeat._meta.db_table,
        seat=Seat._meta.db_table,
        session=Session._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [session_id, list(seat_ids)])
        rows = cursor.fetchall()
    if not rows:
        return []
    # Instances as the ORM builds them from rows: the fields not read here are deferred, so
    # touching one queries it rather than reading a silent None.
    status, starts_at, ends_at, price, movie_id, room_id = rows[0][4:]
    session = from_row(
        Session,
        id=session_id,
        status=status,
        starts_at=starts_at,
        ends_at=ends_at,
        price=price,
        movie_id=movie_id,
        room_id=room_id,
    )
    seats = []
    for seat_id, room_seat_id, label, category, *_ in rows:
        seat = from_row(
            SessionSeat, id=seat_id, session_id=session_id, seat_id=room_seat_id, category=category
        )
        seat.session = session
        seat.seat = from_row(Seat, id=room_seat_id, label=label)
        seats.append(seat)
    return seats


# The first key of the half-price lock ("MEIA"), the second being the session id.
_HALF_PRICE_LOCK_NAMESPACE = 0x4D454941


def lock_half_price_places(session_id: int) -> None:
    """Serialise the half-price holds of one session until the transaction ends, so that the
    count of places left is true when the hold is written. A transaction-scoped advisory lock:
    it waits at most the lock timeout, and nothing else of the session waits for it. Taken
    after the seat and reservation rows."""
    # The second key is 32 bits and session ids are 64: ids 2^31-1 apart share a lock, which
    # only makes them wait for each other, never lets two holds of one session count at once.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, mod(%s::bigint, 2147483647)::int)",
            [_HALF_PRICE_LOCK_NAMESPACE, session_id],
        )


_SESSION_FOR_SALE_SQL = "SELECT status FROM {session} WHERE id = %s FOR KEY SHARE"


def lock_session_for_sale(session_id: int) -> str:
    """The session's status, with a lock that sales share and a cancellation (FOR UPDATE) waits
    for. Taken after the reservation row."""
    sql = _SESSION_FOR_SALE_SQL.format(session=Session._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [session_id])
        row = cursor.fetchone()
    return row[0] if row else Session.Status.CANCELLED


def lock_reservations(ids: Iterable[uuid.UUID]) -> QuerySet[Reservation]:
    """Lock reservation rows in primary-key order (after any seat rows, never before)."""
    return Reservation.objects.filter(id__in=list(ids)).order_by("id").select_for_update()


# One statement, without the ORM's query compiler: every payment, cancellation and extension
# locks its reservation.
_LOCK_RESERVATION_SQL = "SELECT {columns} FROM {reservation} WHERE id = %s FOR UPDATE"


def lock_reservation(reservation_id: uuid.UUID, *, bound_wait: bool = True) -> Reservation | None:
    """The reservation, locked. `bound_wait=False`: the caller's transaction has already bounded
    its lock waits (`set_lock_timeout`)."""
    if bound_wait:
        set_lock_timeout(settings.LOCK_TIMEOUT_SECONDS)
    sql = _LOCK_RESERVATION_SQL.format(
        columns=", ".join(RESERVATION_COLUMNS), reservation=Reservation._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [reservation_id])
        row = cursor.fetchone()
    return None if row is None else reservation_from_row(reservation_id, row)


def lock_overdue_batch(*, now, limit: int) -> list[Reservation]:
    """Pending reservations past their deadline that nobody else is working on."""
    return list(
        Reservation.objects.filter(status=Reservation.Status.PENDING, expires_at__lte=now)
        .order_by("id")
        .select_for_update(skip_locked=True)[:limit]
    )
