"""Demo data: the challenge's example, a superuser, one staff user per role and two buyers.
Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import BOX_OFFICE, CATALOGUE, DOOR, Role, role_group
from apps.catalog.models import Movie
from apps.rooms import services as room_services
from apps.rooms.layout import grid
from apps.rooms.models import Cinema, Room
from apps.sessions import services as session_services
from apps.sessions.models import Session


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    label: str
    superuser: bool = False
    role: Role | None = None

    @property
    def staff(self) -> bool:
        return self.superuser or self.role is not None


USERS = [
    DemoUser("staff@cinema.example", "staff-demo-123", "superuser", superuser=True),
    DemoUser("catalogue@cinema.example", "catalogue-demo-123", "catalogue", role=CATALOGUE),
    DemoUser("boxoffice@cinema.example", "boxoffice-demo-123", "box office", role=BOX_OFFICE),
    DemoUser("door@cinema.example", "door-demo-123", "door", role=DOOR),
    DemoUser("alice@cinema.example", "alice-demo-123", "buyer"),
    DemoUser("bob@cinema.example", "bob-demo-123", "buyer"),
]


def next_evening_session() -> datetime:
    """Today at 19:00 local time, or tomorrow if that has passed."""
    now = timezone.localtime()
    start = timezone.make_aware(datetime.combine(now.date(), time(19, 0)))
    return start if start > now else start + timedelta(days=1)


class Command(BaseCommand):
    help = "Create demo data: movie 'Filme X', a 19:00 session at 25.00 in a 20-seat room, users."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError(
                "Demo data makes users with published passwords (a staff account among them): "
                "refused with these settings. Set DEMO_DATA_ALLOWED=true to seed anyway."
            )
        # Printed after the commit: a closed pipe on stdout must not roll the seed back.
        with transaction.atomic():
            movie, room, session = self._seed()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"Session {session.id}: {movie.title_pt_br}, {room}, "
            f"{timezone.localtime(session.starts_at):%Y-%m-%d %H:%M}, {session.price}, "
            f"{session.seats.count()} seats"
        )
        for demo in USERS:
            self.stdout.write(f"  {demo.label:<10} {demo.email}  password: {demo.password}")

    def _seed(self) -> tuple[Movie, Room, Session]:
        user_model = get_user_model()
        for demo in USERS:
            user, created = user_model.objects.get_or_create(
                email=demo.email, defaults={"is_staff": demo.staff, "is_superuser": demo.superuser}
            )
            if created:
                user.set_password(demo.password)
                user.save()
            if demo.role is not None:
                user.groups.add(role_group(demo.role))

        movie = Movie.objects.filter(title_pt_br="Filme X").first()
        if movie is None:
            movie = Movie(duration_minutes=120)
            movie.title_pt_br, movie.title_en = "Filme X", "Movie X"
            movie.synopsis_pt_br = "Um filme de demonstração."
            movie.synopsis_en = "A demonstration movie."
            movie.save()

        cinema, _ = Cinema.objects.get_or_create(name="Cine Centro", city="São Paulo")
        room = Room.objects.filter(
            cinema=cinema, name="Sala 1"
        ).first() or room_services.room_create(cinema=cinema, name="Sala 1", positions=grid(4, 5))

        session = Session.objects.filter(
            movie=movie, room=room, status=Session.Status.SCHEDULED, starts_at__gt=timezone.now()
        ).first() or session_services.session_create(
            movie=movie, room=room, starts_at=next_evening_session(), price=Decimal("25.00")
        )

        return movie, room, session
