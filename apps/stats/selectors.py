from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from apps.sessions.models import Session

from .models import SessionStats


@dataclass(frozen=True)
class SessionFigures:
    session: int
    seats_total: int
    seats_sold: int
    seats_held: int
    seats_available: int
    revenue: Decimal
    updated_at: datetime | None


def session_figures(session: Session) -> SessionFigures:
    stats = SessionStats.objects.filter(session=session).first() or SessionStats(session=session)
    total = session.seats.count()
    return SessionFigures(
        session=session.id,
        seats_total=total,
        seats_sold=stats.seats_sold,
        seats_held=stats.seats_held,
        seats_available=total - stats.seats_sold - stats.seats_held,
        revenue=stats.revenue,
        updated_at=stats.updated_at,
    )
