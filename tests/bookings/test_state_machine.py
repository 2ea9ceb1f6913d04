"""A model-based test of holds: random reserves, cancels, sales, expiries and clock moves, checked
against a plain-Python model of every seat after each step.

How it is wired:
- Each hypothesis example runs inside its own savepoint, opened in the machine's `__init__` and
  rolled back in `teardown`, within the test's `django_db` transaction. So examples never see each
  other's rows and nothing needs deleting. (Hypothesis's per-example hooks of
  `hypothesis.extra.django.TestCase` do not apply to `run_state_machine_as_test`, whose examples
  are the machine's runs, not the test method's.) `on_commit` callbacks never fire in there, so no
  expiry task is sent to the broker; the expiry rules call the services directly instead.
- The clock is time-machine's, frozen (`tick=False`) and moved only by `advance_clock`, so that the
  model can tell exactly which holds are past their deadline, boundary included.
- The cache points at a dead Redis: the seat keys' TTL runs on Redis's own clock, which
  time-machine cannot move, so a live Redis would keep refusing seats whose hold the frozen clock
  already considers overdue. With Redis down the database alone decides (invariant 5), which is
  exactly the part under test here; the fast path has its own tests in test_locks.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from apps.bookings import locks, selectors, services
from apps.bookings import seat_map as seat_map_reads
from apps.bookings.errors import ReservationNotPending, SeatsUnavailable
from apps.bookings.models import Reservation, ReservationSeat
from apps.core.errors import NotFound
from tests.factories import UserFactory, make_session

SEATS = 6  # of the session's 20, the ones the machine plays with
USERS = 3
TTL = 30
DEAD_REDIS = "redis://127.0.0.1:6399/0"

PENDING = Reservation.Status.PENDING
CONFIRMED = Reservation.Status.CONFIRMED
CANCELLED = Reservation.Status.CANCELLED
EXPIRED = Reservation.Status.EXPIRED


@dataclass
class Hold:
    """The model of one reservation: its stored status and what it holds until when."""

    id: uuid.UUID
    user: int
    seats: frozenset[int]  # session seat ids
    expires_at: datetime
    status: str

    def overdue(self, now: datetime) -> bool:
        return self.status == PENDING and self.expires_at <= now

    def live(self, now: datetime) -> bool:
        return self.status == CONFIRMED or (self.status == PENDING and self.expires_at > now)


class ReservationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self._traveller = time_machine.travel(timezone.now(), tick=False)
        self.clock = self._traveller.start()
        self.session = make_session()
        self.users = UserFactory.create_batch(USERS)
        self.seat_ids = list(self.session.seats.order_by("id").values_list("id", flat=True)[:SEATS])
        self.holds: list[Hold] = []  # creation order, so draws by index replay the same way

    def teardown(self) -> None:
        self._traveller.stop()
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # --- helpers -------------------------------------------------------------------------------

    def live_holder(self, seat_id: int, now: datetime) -> Hold | None:
        holders = [h for h in self.holds if h.live(now) and seat_id in h.seats]
        assert len(holders) <= 1
        return holders[0] if holders else None

    def pick(self, data, holds: list[Hold]) -> Hold:
        return holds[data.draw(st.integers(0, len(holds) - 1), label="reservation")]

    # --- rules ---------------------------------------------------------------------------------

    @rule(
        user=st.integers(0, USERS - 1),
        picks=st.lists(st.integers(0, SEATS - 1), min_size=1, max_size=3, unique=True),
    )
    def reserve(self, user: int, picks: list[int]) -> None:
        wanted = [self.seat_ids[i] for i in picks]
        now = timezone.now()
        conflicts = sorted(s for s in wanted if self.live_holder(s, now) is not None)

        if conflicts:
            with pytest.raises(SeatsUnavailable) as refused:
                services.reservation_create(
                    user=self.users[user], session_id=self.session.id, seat_ids=wanted
                )
            assert refused.value.seat_ids == conflicts
            return

        reservation = services.reservation_create(
            user=self.users[user], session_id=self.session.id, seat_ids=wanted
        )
        assert reservation.status == PENDING
        assert reservation.expires_at == now + timedelta(seconds=TTL)
        assert reservation.total == self.session.price * len(wanted)
        # Overdue holds sitting on the wanted seats are tidied up on the way, whole.
        for hold in self.holds:
            if hold.overdue(now) and hold.seats & set(wanted):
                hold.status = EXPIRED
        self.holds.append(
            Hold(reservation.id, user, frozenset(wanted), reservation.expires_at, PENDING)
        )

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), by_owner=st.booleans())
    def cancel(self, data, by_owner: bool) -> None:
        hold = self.pick(data, self.holds)
        now = timezone.now()
        actor = hold.user if by_owner else (hold.user + 1) % USERS

        if not by_owner:
            with pytest.raises(NotFound):
                services.reservation_cancel(reservation_id=hold.id, user=self.users[actor])
        elif hold.status == PENDING and not hold.overdue(now):
            services.reservation_cancel(reservation_id=hold.id, user=self.users[actor])
            hold.status = CANCELLED
        else:
            with pytest.raises(ReservationNotPending):
                services.reservation_cancel(reservation_id=hold.id, user=self.users[actor])
            if hold.overdue(now):  # the refusal still records the expiry it found
                hold.status = EXPIRED

    @precondition(
        lambda self: any(h.live(timezone.now()) and h.status == PENDING for h in self.holds)
    )
    @rule(data=st.data())
    def sell(self, data) -> None:
        """What a successful payment does to the reservation (the payments app is elsewhere)."""
        now = timezone.now()
        hold = self.pick(data, [h for h in self.holds if h.status == PENDING and h.live(now)])
        Reservation.objects.filter(pk=hold.id).update(status=CONFIRMED, closed_at=now)
        hold.status = CONFIRMED

    @rule()
    def sweep(self) -> None:
        now = timezone.now()
        overdue = [h for h in self.holds if h.overdue(now)]

        assert services.expire_overdue_reservations(batch_size=2) == len(overdue)

        for hold in overdue:
            hold.status = EXPIRED

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def expire_one(self, data) -> None:
        hold = self.pick(data, self.holds)
        now = timezone.now()

        outcome = services.reservation_expire(reservation_id=hold.id)

        if hold.overdue(now):
            assert outcome == services.ExpiryOutcome(expired=True)
            hold.status = EXPIRED
        elif hold.status == PENDING:
            expected = (hold.expires_at - now).total_seconds()
            assert outcome == services.ExpiryOutcome(expired=False, retry_in=expected)
        else:
            assert outcome == services.ExpiryOutcome(expired=False)

    @rule(seconds=st.integers(1, 40))
    def advance_clock(self, seconds: int) -> None:
        self.clock.shift(timedelta(seconds=seconds))

    @precondition(lambda self: any(h.expires_at > timezone.now() for h in self.holds))
    @rule(data=st.data(), offset=st.sampled_from([-1, 0, 1]))
    def advance_to_a_deadline(self, data, offset: int) -> None:
        """Land exactly on a hold's deadline (or a microsecond either side): the boundary where
        `expires_at <= now` starts to mean free, for reads and writes alike."""
        now = timezone.now()
        hold = self.pick(data, [h for h in self.holds if h.expires_at > now])
        target = hold.expires_at + timedelta(microseconds=offset)
        self.clock.shift(max(target - now, timedelta(microseconds=1)))

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def stored_reservations_match_the_model(self) -> None:
        stored = {r.id: r for r in Reservation.objects.filter(session=self.session)}
        assert set(stored) == {h.id for h in self.holds}
        now = timezone.now()
        for hold in self.holds:
            reservation = stored[hold.id]
            assert reservation.status == hold.status
            assert reservation.expires_at == hold.expires_at
            expected = EXPIRED if hold.overdue(now) else hold.status
            assert selectors.effective_status(reservation) == expected

    @invariant()
    def active_seats_belong_to_open_reservations_only(self) -> None:
        active: dict[uuid.UUID, set[int]] = {}
        for reservation_id, seat_id in ReservationSeat.objects.filter(
            reservation__session=self.session, is_active=True
        ).values_list("reservation_id", "session_seat_id"):
            active.setdefault(reservation_id, set()).add(seat_id)
        # Pending (overdue or not) and sold reservations keep all their seats; closed ones none.
        assert active == {
            h.id: set(h.seats) for h in self.holds if h.status in (PENDING, CONFIRMED)
        }

    @invariant()
    def at_most_one_live_reservation_per_seat(self) -> None:
        now = timezone.now()
        rows = ReservationSeat.objects.filter(reservation__session=self.session).values_list(
            "session_seat_id", "reservation_id", "reservation__status", "reservation__expires_at"
        )
        live_by_seat: dict[int, list[uuid.UUID]] = {}
        for seat_id, reservation_id, status, expires_at in rows:
            if status == CONFIRMED or (status == PENDING and expires_at > now):
                live_by_seat.setdefault(seat_id, []).append(reservation_id)
        assert all(len(ids) == 1 for ids in live_by_seat.values()), live_by_seat
        # No pending reservation, even an overdue one, shares a seat with another live one.
        for hold in self.holds:
            if hold.status != PENDING:
                continue
            for seat_id in hold.seats:
                assert live_by_seat.get(seat_id, [hold.id]) == [hold.id]

    @invariant()
    def seat_map_matches_the_model(self) -> None:
        now = timezone.now()
        expected = {}
        for seat_id in self.seat_ids:
            holder = self.live_holder(seat_id, now)
            if holder is None:
                expected[seat_id] = "available"
            else:
                expected[seat_id] = "sold" if holder.status == CONFIRMED else "held"
        seat_map = {e.id: e.status for e in seat_map_reads.seat_map(self.session)}
        assert {s: seat_map[s] for s in self.seat_ids} == expected
        assert {s for s, status in seat_map.items() if status != "available"} <= set(self.seat_ids)


@pytest.mark.django_db
def test_reservation_state_machine(settings):
    caches = {**settings.CACHES}
    caches["default"] = {**caches["default"], "LOCATION": DEAD_REDIS}
    settings.CACHES = caches  # see the module docstring: the database alone decides
    settings.RESERVATION_TTL_SECONDS = TTL
    assert (
        locks.acquire_seat_keys(session_id=1, seat_ids=[1], owner=uuid.uuid4(), ttl_seconds=1)
        is None
    )

    run_state_machine_as_test(
        ReservationMachine,
        settings=hypothesis_settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
