"""What the staff home page reads: the sessions of today and the next ones at each cinema with
their figures, and what needs someone's attention. A constant number of queries, whatever the
number of cinemas and sessions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, DecimalField, F, IntegerField, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import OuterRef, Window
from django.db.models.functions import Coalesce, RowNumber

from apps.bookings.models import Reservation, ReservationSeat
from apps.events.consumers import load_consumers
from apps.events.dead_letters import dead_letter_counts
from apps.payments.models import Payment, Sale, Ticket
from apps.rooms.models import Cinema, SeatCategory
from apps.sessions.models import Session, SessionSeat

# Per cinema: today's sessions and the next ones after them, up to this many in all.
SESSIONS_PER_CINEMA = 40
# A session starting within this time with seats still held (not paid) is worth a look.
STARTING_SOON = timedelta(hours=2)


@dataclass(frozen=True)
class SessionFigures:
    session: Session
    local_start: datetime
    seats: int
    held: int
    sold: int
    checked_in: int
    revenue: Decimal


@dataclass
class CinemaSchedule:
    cinema: Cinema
    today: list[SessionFigures] = field(default_factory=list)
    next: list[SessionFigures] = field(default_factory=list)


def _count(rows: QuerySet, session_path: str) -> Coalesce:
    """The number of `rows` of the outer session, as a subquery."""
    counted = (
        rows.filter(**{session_path: OuterRef("pk")})
        .order_by()
        .values(session_path)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _with_figures(sessions: QuerySet[Session], now: datetime) -> QuerySet[Session]:
    held = ReservationSeat.objects.filter(
        is_active=True,
        reservation__status=Reservation.Status.PENDING,
        reservation__expires_at__gt=now,
    )
    valid = Ticket.objects.filter(voided_at__isnull=True)
    revenue = (
        Sale.objects.filter(session=OuterRef("pk"), status=Sale.Status.PAID)
        .order_by()
        .values("session")
        .annotate(total=Sum("total"))
        .values("total")
    )
    return sessions.annotate(
        seat_total=_count(SessionSeat.objects.exclude(category=SeatCategory.BLOCKED), "session"),
        held_total=_count(held, "reservation__session"),
        sold_total=_count(valid, "sale__session"),
        checked_in_total=_count(valid.filter(checked_in_at__isnull=False), "sale__session"),
        revenue_total=Coalesce(
            Subquery(revenue, output_field=DecimalField()),
            Decimal("0"),
            output_field=DecimalField(),
        ),
    )


def _local_day_start(now: datetime, zone: ZoneInfo) -> datetime:
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def cinema_schedules(*, now: datetime) -> list[CinemaSchedule]:
    """Each cinema with a scheduled session from the start of its local today on: today's
    sessions, then the next ones, in its local time. Two queries."""
    zones = set(Cinema.objects.values_list("timezone", flat=True).distinct())
    if not zones:
        return []
    from_today = Q()
    for zone in zones:
        from_today |= Q(
            room__cinema__timezone=zone, starts_at__gte=_local_day_start(now, ZoneInfo(zone))
        )
    sessions = (
        _with_figures(Session.objects.filter(from_today, status=Session.Status.SCHEDULED), now)
        .select_related("movie", "room__cinema")
        .annotate(
            rank=Window(RowNumber(), partition_by=F("room__cinema"), order_by=F("starts_at").asc())
        )
        .filter(rank__lte=SESSIONS_PER_CINEMA)
        .order_by("room__cinema__name", "room__cinema_id", "starts_at", "id")
    )
    schedules: dict[int, CinemaSchedule] = {}
    for session in sessions:
        cinema = session.room.cinema
        schedule = schedules.setdefault(cinema.pk, CinemaSchedule(cinema=cinema))
        figures = SessionFigures(
            session=session,
            local_start=session.local_starts_at,
            seats=session.seat_total,
            held=session.held_total,
            sold=session.sold_total,
            checked_in=session.checked_in_total,
            revenue=session.revenue_total,
        )
        today = cinema.local(now).date()
        (schedule.today if figures.local_start.date() == today else schedule.next).append(figures)
    return list(schedules.values())


def held_before_start(
    schedules: Iterable[CinemaSchedule], *, now: datetime
) -> list[SessionFigures]:
    """Sessions starting soon (or running) with seats still held, not paid: the buyers may
    be at the box office, or their payment stuck."""
    return [
        figures
        for schedule in schedules
        for figures in schedule.today + schedule.next
        if figures.held
        and figures.session.starts_at <= now + STARTING_SOON
        and figures.session.ends_at > now
    ]


def flagged_payment_count() -> int:
    """Payments that reconciliation or a refund gave up on: staff must look."""
    return Payment.objects.filter(needs_attention=True).count()


def dead_letters() -> dict[str, int] | None:
    """Dead-lettered events per consumer queue (the broker's figure, no query)."""
    return dead_letter_counts([consumer.queue_name for consumer in load_consumers()])
