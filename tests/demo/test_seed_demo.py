from datetime import time
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.roles import BOX_OFFICE, CATALOGUE, DOOR
from apps.catalog.models import Movie
from apps.rooms.models import Cinema, Room
from apps.sessions.models import Session
from tests.conftest import login

pytestmark = pytest.mark.django_db

CREDENTIALS = [
    ("staff@cinema.example", "staff-demo-123"),
    ("catalogue@cinema.example", "catalogue-demo-123"),
    ("boxoffice@cinema.example", "boxoffice-demo-123"),
    ("door@cinema.example", "door-demo-123"),
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

    assert User.objects.count() == 6
    assert set(User.objects.filter(is_staff=True).values_list("email", flat=True)) == {
        "staff@cinema.example",
        "catalogue@cinema.example",
        "boxoffice@cinema.example",
        "door@cinema.example",
    }
    assert list(User.objects.filter(is_superuser=True).values_list("email", flat=True)) == [
        "staff@cinema.example"
    ]


def test_seed_demo_puts_one_staff_user_in_each_role():
    seed()
    seed()

    def groups(email: str) -> list[str]:
        return list(User.objects.get(email=email).groups.values_list("name", flat=True))

    assert groups("catalogue@cinema.example") == [CATALOGUE.group_name]
    assert groups("boxoffice@cinema.example") == [BOX_OFFICE.group_name]
    assert groups("door@cinema.example") == [DOOR.group_name]
    for email in ("staff@cinema.example", "alice@cinema.example", "bob@cinema.example"):
        assert groups(email) == []
    assert Group.objects.get(name=DOOR.group_name).permissions.count() == len(DOOR.permissions)


def test_seeded_roles_can_do_their_job_and_no_more(api):
    seed()
    session = Session.objects.get()

    def client(email: str, password: str):
        c = APIClient()
        c.credentials(HTTP_X_SESSION_TOKEN=login(c, email, password))
        return c

    catalogue = client("catalogue@cinema.example", "catalogue-demo-123")
    box_office = client("boxoffice@cinema.example", "boxoffice-demo-123")
    door = client("door@cinema.example", "door-demo-123")
    alice = User.objects.get(email="alice@cinema.example")
    movie = {"title": "Demo", "duration_minutes": 90}

    assert box_office.get(f"/api/v1/users/{alice.id}/purchases").status_code == 200
    assert door.get(f"/api/v1/users/{alice.id}/purchases").status_code == 403
    assert door.post("/api/v1/movies", movie, format="json").status_code == 403
    assert box_office.post("/api/v1/movies", movie, format="json").status_code == 403
    assert catalogue.post("/api/v1/movies", movie, format="json").status_code == 201
    assert catalogue.get(f"/api/v1/sessions/{session.id}/stats").status_code == 403


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
