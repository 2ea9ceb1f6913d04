"""factory_boy factories. Rooms and sessions are built through their services, so every test
object has the seats a real one would have."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import BOX_OFFICE, CATALOGUE, DOOR, ROLES, Role, role_group
from apps.bookings.models import Reservation
from apps.catalog.models import Movie
from apps.rooms import services as room_services
from apps.rooms.layout import grid
from apps.rooms.models import Cinema, Room
from apps.sessions import services as session_services
from apps.sessions.models import Session
from tests.helpers import seat_ids as first_seat_ids

PASSWORD = "s3cret-Passw0rd"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    # Hashed before the insert: a user is one write, as at sign-up.
    password = factory.django.Password(PASSWORD)


def _roles(*default: Role) -> factory.PostGeneration:
    """Put the user in the groups of these roles (or of `roles=[...]` given to the factory)."""

    def add(user, create, extracted, **kwargs):
        if create:
            for role in default if extracted is None else extracted:
                user.groups.add(role_group(role))

    return factory.PostGeneration(add)


class StaffFactory(UserFactory):
    """A staff member in every role: all the powers `is_staff` alone gave before the roles."""

    is_staff = True
    roles = _roles(*ROLES)


class CatalogueManagerFactory(StaffFactory):
    roles = _roles(CATALOGUE)


class BoxOfficeFactory(StaffFactory):
    roles = _roles(BOX_OFFICE)


class DoorFactory(StaffFactory):
    roles = _roles(DOOR)


class SuperuserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class MovieFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Movie

    title_pt_br = factory.Sequence(lambda n: f"Filme {n}")
    title_en = factory.Sequence(lambda n: f"Movie {n}")
    synopsis_pt_br = "Uma história."
    synopsis_en = "A story."
    duration_minutes = 120


class CinemaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cinema

    name = factory.Sequence(lambda n: f"Cine {n}")
    city = "São Paulo"


def make_room(*, cinema: Cinema | None = None, rows: int = 4, seats_per_row: int = 5, name=None):
    """A room with a grid of seats (4 x 5 = 20 by default)."""
    cinema = cinema or CinemaFactory()
    name = name or f"Sala {Room.objects.count() + 1}"
    return room_services.room_create(cinema=cinema, name=name, positions=grid(rows, seats_per_row))


def make_session(
    *,
    movie: Movie | None = None,
    room: Room | None = None,
    starts_at=None,
    price: Decimal = Decimal("25.00"),
) -> Session:
    return session_services.session_create(
        movie=movie or MovieFactory(),
        room=room or make_room(),
        starts_at=starts_at or timezone.now() + timedelta(days=1),
        price=price,
    )


def make_sale(*, user, session: Session, seat_ids: list[int] | None = None, seats: int = 1):
    """A paid sale of `seat_ids` (or of the first `seats` free seats), through the real services:
    hold, then pay with an approved test card."""
    from apps.bookings import seat_map as seat_map_reads
    from apps.bookings import services as booking_services
    from apps.payments import services as payment_services

    if seat_ids is None:
        free = [e.id for e in seat_map_reads.seat_map(session) if e.status == "available"]
        seat_ids = free[:seats]
    reservation = booking_services.reservation_create(
        user=user, session_id=session.id, seat_ids=seat_ids
    )
    payment = payment_services.payment_start(
        reservation_id=reservation.id, user=user, token="tok_visa"
    )
    assert payment.status == "succeeded", (payment.status, payment.failure_reason)
    return payment.sale


def hold(
    user,
    session: Session,
    count: int = 2,
    *,
    offset: int = 0,
    seat_ids: list[int] | None = None,
) -> Reservation:
    """A pending reservation made through the booking service: of `seat_ids`, or else of `count`
    seats in id order from the `offset`-th on (25.00 each by default: two seats make 50.00)."""
    from apps.bookings import services as booking_services

    if seat_ids is None:
        seat_ids = first_seat_ids(session, count, offset=offset)
    return booking_services.reservation_create(user=user, session_id=session.id, seat_ids=seat_ids)


def make_overdue(reservation: Reservation) -> None:
    """Put the hold's deadline in the past without any sweeper touching the row."""
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
