"""Lists that fit a screen: chosen columns, short ids, readable ticket names, filters that
search instead of listing every room and session, in a bounded number of queries."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.payments.models import Ticket
from apps.rooms.models import Room
from tests.factories import (
    CinemaFactory,
    SuperuserFactory,
    UserFactory,
    make_room,
    make_sale,
    make_session,
)

pytestmark = pytest.mark.django_db

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def superuser_client(client):
    client.force_login(SuperuserFactory())
    return client


def page(client, name: str, query: str = "") -> str:
    response = client.get(reverse(f"admin:{name}") + query, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert response.status_code == 200
    return response.content.decode()


def test_a_ticket_reads_movie_session_and_seat():
    session = make_session()
    sale = make_sale(user=UserFactory(), session=session)
    ticket = sale.tickets.select_related("session_seat__seat").get()

    assert str(ticket.session_seat) == f"{session} · {ticket.session_seat.seat.label}"
    assert str(ticket.session_seat).startswith(
        f"{session.movie.title} · {session.room.cinema.name}"
    )


@pytest.mark.parametrize(
    "name",
    [
        "payments_sale_changelist",
        "payments_payment_changelist",
        "payments_ticket_changelist",
        "bookings_reservation_changelist",
    ],
)
def test_lists_show_short_ids_not_whole_uuids(superuser_client, name):
    make_sale(user=UserFactory(), session=make_session())

    html = page(superuser_client, name)
    rows = html.split('id="result_list"')[1].split("<tbody>")[1].split("</tbody>")[0]
    shown = re.sub(r"<[^>]+>", " ", rows)  # the text, not the links' addresses

    assert shown.split()
    assert not UUID.search(shown)


def test_the_ticket_list_says_each_tickets_state(superuser_client):
    sale = make_sale(user=UserFactory(), session=make_session(), seats=2)
    first = sale.tickets.order_by("pk").first()
    Ticket.objects.filter(pk=first.pk).update(checked_in_at=sale.paid_at)

    html = page(superuser_client, "payments_ticket_changelist")

    assert "entrou em " in html
    assert ">válido<" in html
    assert first.code[:8] in html
    assert first.code not in html


def test_the_ticket_list_reads_in_a_constant_number_of_queries(superuser_client):
    session = make_session()
    make_sale(user=UserFactory(), session=session)
    page(superuser_client, "payments_ticket_changelist")  # the user and their session read once
    with CaptureQueriesContext(connection) as one:
        page(superuser_client, "payments_ticket_changelist")
    for _ in range(4):
        make_sale(user=UserFactory(), session=make_session())

    with CaptureQueriesContext(connection) as five:
        page(superuser_client, "payments_ticket_changelist")

    assert len(five.captured_queries) == len(one.captured_queries)


def test_rooms_movies_and_sessions_are_searched_not_listed(superuser_client):
    sessions = [make_session() for _ in range(3)]

    html = page(superuser_client, "screenings_session_changelist")
    sales = page(superuser_client, "payments_sale_changelist")

    for field in ("room", "movie"):
        assert f'data-field-name="{field}"' in html
    assert 'data-field-name="session"' in sales
    for session in sessions:
        assert f"room__id__exact={session.room_id}" not in html
        assert f"session__id__exact={session.pk}" not in sales


def test_a_chosen_room_is_named_in_its_filter(superuser_client):
    room = make_session().room

    html = page(superuser_client, "screenings_session_changelist", f"?room__id__exact={room.pk}")

    assert f'<option value="{room.pk}" selected>{room}</option>' in html


def test_the_autocomplete_names_sessions_in_local_time(superuser_client):
    session = make_session()

    response = superuser_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "payments", "model_name": "sale", "field_name": "session", "term": ""},
    )

    assert response.json()["results"] == [{"id": str(session.pk), "text": str(session)}]


def test_the_session_autocomplete_pages_through_every_session_once_in_start_order(
    superuser_client,
):
    # More than a page (the admin's autocomplete pages by 20), made out of start order.
    room = make_room()
    starts = [timezone.now() + timedelta(days=2, hours=3 * n) for n in range(25)]
    sessions = [make_session(room=room, starts_at=starts_at) for starts_at in reversed(starts)]
    query = {"app_label": "payments", "model_name": "sale", "field_name": "session", "term": ""}

    first = superuser_client.get(reverse("admin:autocomplete"), {**query, "page": 1}).json()
    second = superuser_client.get(reverse("admin:autocomplete"), {**query, "page": 2}).json()

    assert first["pagination"]["more"] is True
    ids = [int(item["id"]) for item in first["results"] + second["results"]]
    assert ids == [s.pk for s in sorted(sessions, key=lambda s: s.starts_at)]


def test_cinemas_are_listed_by_name_in_filters(superuser_client):
    for name in ("Zeta", "Alfa", "Miramar"):
        make_room(cinema=CinemaFactory(name=name))

    html = page(superuser_client, "screenings_session_changelist")

    positions = [html.index(f"{name} (São Paulo)") for name in ("Alfa", "Miramar", "Zeta")]
    assert positions == sorted(positions)
    assert Room.objects.count() == 3
