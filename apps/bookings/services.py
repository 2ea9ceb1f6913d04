"""Writes of reservations: reserve, cancel, expire. Each public function is one transaction.

Lock order (see locks.py): Redis keys, then session-seat rows by id, then reservation rows by id.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.catalog.models import Movie
from apps.core.db import constraint_errors, from_row, log_on_commit
from apps.core.errors import InvalidInput, NotFound
from apps.core.locking import busy_as, is_lock_timeout
from apps.core.prefetch import attach_prefetched
from apps.events import outbox
from apps.rooms.models import Room, SeatCategory
from apps.sessions import selectors as session_selectors
from apps.sessions import services as session_services
from apps.sessions.models import Session, SessionSeat
from apps.sessions.pricing import TicketType

from . import event_types as booking_events
from . import locks, metrics, seat_map_cache, seat_stream, selectors
from .errors import (
    HalfPriceSoldOut,
    ReservationAlreadyConfirmed,
    ReservationBusy,
    ReservationExpired,
    ReservationNotPending,
    SeatsBusy,
    SeatsUnavailable,
    SessionNotOpen,
    SessionOnSale,
)
from .models import ONE_ACTIVE_HOLD_PER_SEAT, SEAT_NOT_BLOCKED, Reservation, ReservationSeat

logger = structlog.get_logger(__name__)


def _open_session(session_id: int) -> Session:
    session = session_selectors.session_for_booking(session_id)
    if session is None:
        raise NotFound(_("Session not found."))
    _check_open(session)
    return session


def _check_open(session: Session) -> None:
    if session.status != Session.Status.SCHEDULED or session.starts_at <= timezone.now():
        raise SessionNotOpen()


def _check_seat_count(seat_ids: list[int]) -> None:
    if len(set(seat_ids)) != len(seat_ids):
        raise InvalidInput(_("A seat is listed twice."), field="seats", code="duplicate_seats")
    if not 1 <= len(seat_ids) <= settings.MAX_SEATS_PER_RESERVATION:
        raise InvalidInput(
            _("Reserve between 1 and %(max)d seats.") % {"max": settings.MAX_SEATS_PER_RESERVATION},
            field="seats",
            code="too_many_seats",
        )


def hold_seconds_for(requested: int | None) -> int:
    """How long a new hold lasts: `RESERVATION_TTL_SECONDS`, or the `requested` seconds of a
    person trying the flow by hand, where `TRY_FLOW_HOLD_SECONDS_MAX` allows them."""
    if requested is None:
        return settings.RESERVATION_TTL_SECONDS
    longest = settings.TRY_FLOW_HOLD_SECONDS_MAX
    if longest <= 0:
        raise InvalidInput(
            _("A chosen hold time (hold_seconds) is not available here."),
            field="hold_seconds",
            code="hold_seconds_not_allowed",
        )
    if not 1 <= requested <= longest:
        raise InvalidInput(
            _("hold_seconds must be between 1 and %(max)d.") % {"max": longest},
            field="hold_seconds",
            code="hold_seconds_out_of_range",
        )
    return requested


def _check_seats_belong(seat_ids: list[int], found: set[int]) -> None:
    foreign = sorted(set(seat_ids) - found)
    if foreign:
        raise InvalidInput(
            _("These seats are not seats of this session: %(ids)s.")
            % {"ids": ", ".join(map(str, foreign))},
            field="seats",
            code="invalid_seats",
        )


def _keep_seat_keys_on_commit(
    reservation: Reservation, seat_ids: list[int], *, new_hold: bool = True
) -> None:
    """Once committed: the seat keys last as long as the hold, and the seat map changed (a new
    hold is also announced on the live seat stream; an extension changes no seat's status)."""

    def committed() -> None:
        locks.extend_seat_keys(
            session_id=reservation.session_id,
            seat_ids=seat_ids,
            owner=reservation.id,
            until=reservation.expires_at,
        )
        seat_stream.committed(
            reservation.session_id, seat_ids, seat_stream.HELD if new_hold else None
        )

    transaction.on_commit(committed)


def _release_on_commit(reservation: Reservation, seat_ids: list[int], seat_status: str) -> None:
    """Once committed: give the seat keys back, tell the seat-map cache the map changed and
    announce the seats' new status on the live seat stream."""

    def release() -> None:
        locks.release_seat_keys(
            session_id=reservation.session_id, seat_ids=seat_ids, owner=reservation.id
        )
        seat_stream.committed(reservation.session_id, seat_ids, seat_status)

    transaction.on_commit(release)


def _close(
    reservation: Reservation, status: str, now: datetime, seat_ids: list[int] | None = None
) -> list[int]:
    """End a locked reservation: set its final status and free (or keep) its seats (`seat_ids`,
    in id order, when the caller has them)."""
    if seat_ids is None:
        seat_ids = list(
            reservation.seats.order_by("session_seat_id").values_list("session_seat_id", flat=True)
        )
    reservation.status = status
    reservation.closed_at = now
    reservation.save(update_fields=["status", "closed_at"])
    if status in _RELEASING:
        ReservationSeat.objects.filter(reservation=reservation, is_active=True).update(
            is_active=False
        )
        _announce_release(reservation, status, seat_ids)
    # A closing frees the seats (cancelled, expired, refunded) or sells them (confirmed).
    seat_status = seat_stream.AVAILABLE if status in _RELEASING else seat_stream.SOLD
    _release_on_commit(reservation, seat_ids, seat_status)
    ids = {"reservation_id": str(reservation.id), "session_id": reservation.session_id}

    def committed() -> None:  # counted and told only once it really happened
        metrics.RESERVATIONS.labels(outcome=status).inc()
        logger.info(f"reservation_{status}", **ids, seat_ids=seat_ids)

    transaction.on_commit(committed)
    return seat_ids


# The closings that free the seats, each with the event that announces it.
_RELEASING = {
    Reservation.Status.CANCELLED: booking_events.RESERVATION_CANCELLED,
    Reservation.Status.EXPIRED: booking_events.RESERVATION_EXPIRED,
    # A refund is announced by the payments app (payment.refunded); here only its seats.
    Reservation.Status.REFUNDED: None,
}


def _announce_release(reservation: Reservation, status: str, seat_ids: list[int]) -> None:
    event_type = _RELEASING[status]
    ids = {"reservation_id": reservation.id, "session_id": reservation.session_id}
    closing = [outbox.Event(event_type, {**ids, "seat_ids": seat_ids})] if event_type else []
    outbox.emit(
        *closing,
        *(
            outbox.Event(
                booking_events.SEAT_RELEASED,
                {
                    "session_id": reservation.session_id,
                    "seat_id": seat_id,
                    "reservation_id": reservation.id,
                    "reason": status,
                },
            )
            for seat_id in seat_ids
        ),
    )


def _free_overdue_holders(seat_ids: list[int], now: datetime) -> None:
    """Expire the overdue holds sitting on these seats; refuse if any seat is really taken."""
    holders = selectors.active_holds_on(seat_ids)
    if not holders:
        return  # the common case: no query to build for the (empty) set of holders to lock
    busy = [h.session_seat_id for h in holders if not h.reservation.is_overdue(now)]
    if busy:
        raise SeatsUnavailable(busy)
    overdue_ids = {h.reservation_id for h in holders}
    for reservation in locks.lock_reservations(overdue_ids):
        # Re-checked under its lock: a payment may have won the race for it meanwhile.
        if not reservation.is_overdue(now):
            raise SeatsUnavailable(
                [h.session_seat_id for h in holders if h.reservation_id == reservation.id]
            )
        _close(reservation, Reservation.Status.EXPIRED, now)


# The reservation and its seats in one statement, without the ORM's query compiler: this runs
# for every hold of a rush.
_INSERT_HOLD_SQL = """
WITH reservation AS (
  INSERT INTO {reservation} (id, user_id, session_id, status, expires_at, total, created_at)
  VALUES (%s, %s, %s, %s, %s, %s, %s)
  RETURNING id
)
INSERT INTO {reservation_seat} (reservation_id, session_seat_id, ticket_type, price, is_active)
SELECT reservation.id, seat.id, seat.ticket_type, seat.price, TRUE
FROM reservation, unnest(%s::bigint[], %s::varchar[], %s::numeric[])
  AS seat(id, ticket_type, price)
RETURNING id, session_seat_id
"""


def _insert_hold(
    *,
    reservation_id: uuid.UUID,
    user,
    session: Session,
    seats: list[SessionSeat],
    half_price: Collection[int],
    now: datetime,
    hold_seconds: int,
) -> tuple[Reservation, list[ReservationSeat]]:
    """Write a new reservation and its seats, each with its ticket type and the price of that
    type now; returns them as the ORM builds rows it read (`from_db`), with the session, user
    and seats they point at attached."""
    prices = session.prices
    types = [TicketType.HALF if seat.id in half_price else TicketType.FULL for seat in seats]
    seat_prices = [prices[ticket_type] for ticket_type in types]
    # In the order of _INSERT_HOLD_SQL's columns.
    row = {
        "id": reservation_id,
        "user_id": user.id,
        "session_id": session.id,
        "status": Reservation.Status.PENDING,
        "expires_at": now + timedelta(seconds=hold_seconds),
        "total": sum(seat_prices, Decimal(0)),
        "created_at": now,
    }
    sql = _INSERT_HOLD_SQL.format(
        reservation=Reservation._meta.db_table, reservation_seat=ReservationSeat._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [*row.values(), [seat.id for seat in seats], [str(t) for t in types], seat_prices],
        )
        ids = {session_seat_id: pk for pk, session_seat_id in cursor.fetchall()}
    reservation = from_row(Reservation, **row)
    reservation.user = user
    reservation.session = session
    held = [
        selectors.reserved_seat(
            reservation,
            seat,
            id=ids[seat.id],
            ticket_type=ticket_type,
            price=price,
            is_active=True,
        )
        for seat, ticket_type, price in zip(seats, types, seat_prices, strict=True)
    ]
    return reservation, held


def _check_half_price_places(session_id: int, wanted: int, now: datetime) -> None:
    """Refuse the hold if the session has fewer half-price places left than it asks for. The
    count runs under the session's half-price lock, so racing buyers see each other's holds."""
    locks.lock_half_price_places(session_id)
    places, taken = selectors.half_price_places(session_id, now)
    if taken + wanted > places:
        raise HalfPriceSoldOut(left=max(places - taken, 0))


def _reserve_in_database(
    *,
    reservation_id: uuid.UUID,
    user,
    session: Session,
    seat_ids: list[int],
    half_price: Collection[int],
    hold_seconds: int,
) -> Reservation:
    with transaction.atomic():
        seats = locks.lock_session_seats(session_id=session.id, seat_ids=seat_ids)
        # The lock query only finds seats of this session: what it misses is not one (a 400, and
        # the transaction and the Redis keys are given back like any other failure).
        _check_seats_belong(seat_ids, {seat.id for seat in seats})
        blocked = [seat.id for seat in seats if seat.category == SeatCategory.BLOCKED]
        if blocked:
            raise SeatsUnavailable(blocked)
        # The row as it is now (read with the seats): the one checked before may be a second old.
        session = seats[0].session
        _check_open(session)
        now = timezone.now()
        _free_overdue_holders(seat_ids, now)
        if half_price:
            _check_half_price_places(session.id, len(half_price), now)

        # The partial unique index and the blocked-seat trigger are the last guards: even a bug
        # above cannot double-hold a seat or hold a blocked one. The error leaves the whole
        # transaction, so no savepoint is needed around the insert.
        def refused() -> SeatsUnavailable:
            return SeatsUnavailable(seat_ids)

        with constraint_errors(
            {ONE_ACTIVE_HOLD_PER_SEAT: refused, SEAT_NOT_BLOCKED: refused}, savepoint=False
        ):
            reservation, held = _insert_hold(
                reservation_id=reservation_id,
                user=user,
                session=session,
                seats=seats,
                half_price=half_price,
                now=now,
                hold_seconds=hold_seconds,
            )

        _keep_seat_keys_on_commit(reservation, seat_ids)
        # The caller renders the new reservation from memory instead of reading it back.
        attach_prefetched(reservation, "seats", held)
        outbox.emit(
            outbox.Event(
                booking_events.RESERVATION_CREATED,
                {
                    "reservation_id": reservation.id,
                    "session_id": session.id,
                    "user_id": user.id,
                    "seat_ids": sorted(seat.id for seat in seats),
                    "expires_at": reservation.expires_at,
                    "total": reservation.total,
                },
            )
        )
    return reservation


def reservation_create(
    *,
    user,
    session_id: int,
    seat_ids: list[int],
    half_price: Collection[int] = (),
    hold_seconds: int | None = None,
) -> Reservation:
    """Hold the seats for the user, all or none, until the reservation's `expires_at`. The
    seats in `half_price` are half-price tickets (at most `HALF_PRICE_SHARE` of the session's
    seats are, at once); the others full price. `hold_seconds`: see `hold_seconds_for`."""
    session = _open_session(session_id)
    _check_seat_count(seat_ids)
    hold_seconds = hold_seconds_for(hold_seconds)
    half_price = frozenset(half_price)
    if not half_price <= set(seat_ids):
        raise InvalidInput(
            _("Half-price seats must be seats of the reservation."),
            field="tickets",
            code="invalid_seats",
        )
    reservation_id = uuid.uuid4()
    # Keys exist only for seats of live or in-flight holds: a loser is refused before any query
    # beyond the session, and without touching the seat rows.
    taken = locks.acquire_seat_keys(
        session_id=session.id,
        seat_ids=seat_ids,
        owner=reservation_id,
        ttl_seconds=min(locks.IN_FLIGHT_SECONDS, hold_seconds),
    )
    if taken:
        metrics.RESERVATIONS.labels(outcome="conflict").inc()
        metrics.CONFLICTS_BY_GUARD.labels(guard="redis").inc()
        logger.info(
            "reservation_refused", reason="redis_fast_path", session_id=session.id, taken=taken
        )
        raise SeatsUnavailable(taken)
    try:
        reservation = _reserve_in_database(
            reservation_id=reservation_id,
            user=user,
            session=session,
            seat_ids=seat_ids,
            half_price=half_price,
            hold_seconds=hold_seconds,
        )
    except BaseException as exc:
        # Exactly the keys this request took, and only if they are still ours.
        locks.release_seat_keys(session_id=session.id, seat_ids=seat_ids, owner=reservation_id)
        if isinstance(exc, SeatsUnavailable):
            metrics.RESERVATIONS.labels(outcome="conflict").inc()
            metrics.CONFLICTS_BY_GUARD.labels(guard="database").inc()
            logger.info(
                "reservation_refused", reason="database", session_id=session.id, taken=exc.seat_ids
            )
        if isinstance(exc, OperationalError) and is_lock_timeout(exc):
            raise SeatsBusy() from exc
        raise
    metrics.RESERVATIONS.labels(outcome="created").inc()
    logger.info(
        "reservation_created",
        reservation_id=str(reservation.id),
        session_id=session.id,
        seat_ids=sorted(seat_ids),
        expires_at=reservation.expires_at.isoformat(),
        redis_fast_path=taken is not None,
    )
    return reservation


def _locked_own_reservation(
    reservation_id: uuid.UUID, user, *, bound_wait: bool = True
) -> Reservation:
    reservation = locks.lock_reservation(reservation_id, bound_wait=bound_wait)
    if reservation is None or reservation.user_id != user.id:
        raise NotFound(_("Reservation not found."))
    return reservation


def reservation_cancel(*, reservation_id: uuid.UUID, user) -> Reservation:
    """The owner gives the seats back. Only a pending, unexpired reservation can be cancelled."""
    with busy_as(ReservationBusy), transaction.atomic():
        reservation = _locked_own_reservation(reservation_id, user)
        now = timezone.now()
        if reservation.is_overdue(now):
            _close(reservation, Reservation.Status.EXPIRED, now)
        elif reservation.status == Reservation.Status.PENDING:
            _close(reservation, Reservation.Status.CANCELLED, now)
            return reservation
    # Outside the block, so that an overdue hold's expiry above is committed, not rolled back.
    raise ReservationNotPending(
        _("The reservation is %(status)s.") % {"status": reservation.get_status_display()}
    )


def ensure_payable(reservation: Reservation, now: datetime) -> None:
    """Raise the contract's error unless the reservation can be paid right now."""
    if reservation.status == Reservation.Status.CONFIRMED:
        raise ReservationAlreadyConfirmed()
    if reservation.status == Reservation.Status.EXPIRED or reservation.is_overdue(now):
        raise ReservationExpired()
    if reservation.status != Reservation.Status.PENDING:
        raise ReservationNotPending(
            _("The reservation is %(status)s.") % {"status": reservation.get_status_display()}
        )


def reservation_confirm(
    *, reservation_id: uuid.UUID, user, seat_ids: list[int] | None = None
) -> Reservation:
    """Turn the user's pending hold into a sale of its seats. A step of the payment transaction:
    the caller must be inside `transaction.atomic()`, with its lock waits bounded
    (`set_lock_timeout`), and write the sale in the same transaction. `seat_ids`: the
    reservation's seats in id order, if the caller has read them (they never change).

    The reservation row lock serialises this against cancel and expiry: whichever commits first
    wins, and the other sees the final status.
    """
    reservation = _locked_own_reservation(reservation_id, user, bound_wait=False)
    now = timezone.now()
    ensure_payable(reservation, now)
    # Shared with other sales, exclusive of a cancellation: a session cancelled meanwhile waits
    # for this sale to commit (and then refunds it), or this sale sees it cancelled.
    if locks.lock_session_for_sale(reservation.session_id) != Session.Status.SCHEDULED:
        raise SessionNotOpen()
    _close(reservation, Reservation.Status.CONFIRMED, now, seat_ids)
    return reservation


def reservation_extend(*, reservation_id: uuid.UUID, user, until: datetime) -> Reservation:
    """Give a hold more time, once, while a payment that settles later is under way: its
    deadline becomes at least `until`. Raises the contract's error if it cannot be paid now."""
    with busy_as(ReservationBusy), transaction.atomic():
        reservation = _locked_own_reservation(reservation_id, user)
        now = timezone.now()
        ensure_payable(reservation, now)
        if reservation.extended_at is not None or reservation.expires_at >= until:
            return reservation
        reservation.expires_at = until
        reservation.extended_at = now
        reservation.save(update_fields=["expires_at", "extended_at"])
        seat_ids = list(
            reservation.seats.order_by("session_seat_id").values_list("session_seat_id", flat=True)
        )
        outbox.emit(
            outbox.Event(
                booking_events.RESERVATION_EXTENDED,
                {"reservation_id": reservation.id, "expires_at": reservation.expires_at},
            )
        )
        _keep_seat_keys_on_commit(reservation, seat_ids, new_hold=False)
        log_on_commit(
            logger,
            "reservation_extended",
            reservation_id=str(reservation.id),
            expires_at=reservation.expires_at.isoformat(),
        )
    return reservation


def reservation_release_sold(*, reservation_id: uuid.UUID) -> list[int]:
    """Put a sold reservation's seats on sale again, its sale being refunded. A step of the
    refund transaction (the caller is inside `transaction.atomic()`). Returns the seat ids."""
    reservation = locks.lock_reservation(reservation_id)
    if reservation is None or reservation.status != Reservation.Status.CONFIRMED:
        raise ReservationNotPending(_("The reservation is not sold."))
    return _close(reservation, Reservation.Status.REFUNDED, timezone.now())


@dataclass(frozen=True)
class ExpiryOutcome:
    expired: bool
    retry_in: float | None = None  # seconds until the deadline, when it is not reached yet


def reservation_expire(*, reservation_id: uuid.UUID) -> ExpiryOutcome:
    """Expire one reservation if it is pending and past its deadline (the ETA task's job)."""
    with transaction.atomic():
        reservation = locks.lock_reservation(reservation_id)
        if reservation is None or reservation.status != Reservation.Status.PENDING:
            return ExpiryOutcome(expired=False)
        now = timezone.now()
        if reservation.expires_at > now:
            return ExpiryOutcome(
                expired=False, retry_in=(reservation.expires_at - now).total_seconds()
            )
        _close(reservation, Reservation.Status.EXPIRED, now)
        return ExpiryOutcome(expired=True)


def expire_overdue_reservations(*, batch_size: int = 100) -> int:
    """The sweeper: expire every overdue pending reservation, in batches, skipping rows that a
    payment, cancel or another sweeper holds right now. Returns how many it expired."""
    expired = 0
    while True:
        with transaction.atomic():
            now = timezone.now()
            batch = locks.lock_overdue_batch(now=now, limit=batch_size)
            for reservation in batch:
                _close(reservation, Reservation.Status.EXPIRED, now)
        expired += len(batch)
        if len(batch) < batch_size:
            return expired


@transaction.atomic
def session_correct(
    *, session_id: int, movie: Movie, room: Room, starts_at: datetime, price: Decimal
) -> Session:
    """Correct a session's movie, time, room or price, by the rules of a new session, until the
    first hold of one of its seats; after that, buyers count on its terms and it can only be
    cancelled (SessionOnSale)."""
    # The documented lock order (locks.py): the seats, then the session row.
    locks.lock_all_session_seats(session_id=session_id)
    session = session_services.session_lock(session_id=session_id)
    if selectors.session_ever_held(session_id):
        raise SessionOnSale()
    moved = session.room_id != room.pk
    rescheduled = session.starts_at != starts_at
    session = session_services.session_update(
        session=session, movie=movie, room=room, starts_at=starts_at, price=price
    )
    if moved:
        # Its seats are now another room's: the cached map shows old ones.
        transaction.on_commit(lambda: seat_map_cache.changed(session_id))
    if moved or rescheduled:
        # Open streams show the old seats, or end at the old start (read when they connected):
        # they end, and reconnect to a snapshot of the session as it is now.
        live_seats_end_on_commit(session_id=session_id, reason="session_moved")
    return session


def live_seats_end_on_commit(*, session_id: int, reason: str) -> None:
    """Once the caller's transaction commits, close the session's live seat map streams
    (an `end` event with `reason`), e.g. when the session is cancelled."""
    transaction.on_commit(lambda: seat_stream.session_ended(session_id, reason))
