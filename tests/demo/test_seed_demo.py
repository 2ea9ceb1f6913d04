from datetime import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Movie
from apps.rooms.models import Cinema, Room
from apps.sessions.models import Session
from tests.conftest import login

pytestmark = pytest.mark.django_db

CREDENTIALS = [
    ("staff@cinema.example", "staff-demo-123"),
    ("alice@cinema.example", "alice-demo-123"),
    ("bob@cinema.example", "bob-demo-123"),
]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_is_idempotent():
    seed()
    output = seed()

    movie = Movie.objects.get()
    assert movie.title_pt_br == "Filme X"
    assert Cinema.objects.count() == 1
    assert Room.objects.count() == 1

    session = Session.objects.get()
    assert session.movie == movie
    assert session.status == Session.Status.SCHEDULED
    assert session.starts_at > timezone.now()
    assert timezone.localtime(session.starts_at).time() == time(19, 0)
    assert session.price == Decimal("25.00")
    assert session.seats.count() >= 16
    assert f"Session {session.id}" in output

    assert User.objects.count() == 3
    assert list(User.objects.filter(is_staff=True).values_list("email", flat=True)) == [
        "staff@cinema.example"
    ]


def test_seed_demo_prints_the_credentials():
    output = seed()

    for email, password in CREDENTIALS:
        line = next(line for line in output.splitlines() if email in line)
        assert password in line


def test_seeded_users_can_log_in(api):
    seed()

    for email, password in CREDENTIALS:
        assert login(api, email, password)


def test_seeding_is_refused_where_demo_data_is_not_allowed(settings):
    settings.DEMO_DATA_ALLOWED = False

    with pytest.raises(CommandError, match="DEMO_DATA_ALLOWED"):
        call_command("seed_demo")
