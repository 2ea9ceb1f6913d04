"""A session's time is read in its cinema's zone wherever a person reads it: its name, the admin's
lists, filters, pages and messages, and the buyer's e-mails. Stored times stay UTC.

The server's zone is set to UTC here, so nothing below can pass by borrowing it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.bookings.models import Reservation
from apps.payments import emails
from apps.payments.models import Sale
from apps.rooms.models import Room
from apps.sessions.models import Session
from apps.stats.models import SessionStats
from tests.factories import CinemaFactory, UserFactory, make_room, make_sale, make_session
from tests.helpers import admin_url as url

pytestmark = pytest.mark.django_db

# 22:30 UTC on a July day: 19:30 in São Paulo (UTC-3), 23:30 in Lisbon (summer time, UTC+1).
STARTS_AT = datetime(2030, 7, 15, 22, 30, tzinfo=UTC)
UTC_NAME = "2030-07-15 22:30"


@pytest.fixture(autouse=True)
def _server_in_utc(settings):
    settings.TIME_ZONE = "UTC"


@pytest.fixture
def sao_paulo():
    room = make_room(cinema=CinemaFactory(timezone="America/Sao_Paulo"))
    return make_session(room=room, starts_at=STARTS_AT)


@pytest.fixture
def lisbon():
    room = make_room(cinema=CinemaFactory(timezone="Europe/Lisbon"))
    return make_session(room=room, starts_at=STARTS_AT)


def page(client, address: str) -> str:
    response = client.get(address)
    assert response.status_code == 200
    return response.content.decode()


def test_a_sessions_name_shows_its_cinemas_local_time(sao_paulo, lisbon):
    assert str(sao_paulo).endswith("2030-07-15 19:30")
    assert str(lisbon).endswith("2030-07-15 23:30")
    assert Session.objects.filter(starts_at=STARTS_AT).count() == 2  # stored in UTC


def test_admin_pages_and_lists_show_local_times(superuser_client, sao_paulo, lisbon):
    buyer = UserFactory()
    for session in (sao_paulo, lisbon):
        make_sale(user=buyer, session=session)
        SessionStats.objects.create(session=session, seats_sold=1)

    change = page(superuser_client, url(Session, "change", sao_paulo.pk))
    assert "<title>" in change
    title = change.split("<title>")[1].split("</title>")[0]
    assert "2030-07-15 19:30" in title
    assert "15/07/2030 19:30" in change  # "starts at", shown read-only once sold
    assert "às 22:30" not in change

    listed = {
        "sessions": url(Session, "changelist"),
        "reservations": url(Reservation, "changelist"),
        "sales (and the by-session filter)": url(Sale, "changelist"),
        "statistics": url(SessionStats, "changelist"),
        "room page": url(Room, "change", sao_paulo.room_id),
    }
    for where, address in listed.items():
        content = page(superuser_client, address)
        assert "19:30" in content, where
        assert UTC_NAME not in content, where
        assert "às 22:30" not in content, where
        if where != "room page":
            assert "23:30" in content, where  # the other cinema, in its own zone

    sessions = page(superuser_client, url(Session, "changelist"))
    assert "15/07/2030 19:30" in sessions
    assert "15/07/2030 23:30" in sessions
    # The by-session filter searches as one types, and names the chosen session as above.
    sales = page(superuser_client, url(Sale, "changelist") + f"?session__id__exact={sao_paulo.pk}")
    assert f'<option value="{sao_paulo.pk}" selected>{sao_paulo}</option>' in sales


def test_the_add_form_takes_the_rooms_cinemas_local_time(superuser_client, lisbon):
    room = make_room(cinema=lisbon.room.cinema)

    response = superuser_client.post(
        url(Session, "add"),
        {
            "movie": lisbon.movie_id,
            "room": room.pk,
            "starts_at_0": "20/07/2030",
            "starts_at_1": "21:00",
            "price": "30.00",
        },
    )

    assert response.status_code == 302, response.content.decode()
    created = Session.objects.get(room=room)
    assert created.starts_at == datetime(2030, 7, 20, 20, 0, tzinfo=UTC)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("2030-07-20 21:00" in m for m in messages), messages


@pytest.mark.parametrize(("fixture", "local"), [("sao_paulo", "19:30"), ("lisbon", "23:30")])
def test_the_buyers_emails_show_the_cinemas_local_time(request, mailoutbox, fixture, local):
    session = request.getfixturevalue(fixture)
    sale = make_sale(user=UserFactory(), session=session)

    emails.send_ticket_email(sale_id=sale.id)
    emails.send_refund_email(payment_id=sale.payment_id)

    tickets, refund = mailoutbox
    for body in (tickets.body, tickets.alternatives[0].content, refund.body):
        assert f"15/07/2030 {local}" in body
        assert "22:30" not in body


def test_the_change_form_shows_and_takes_the_cinemas_local_time(superuser_client, lisbon):
    form = page(superuser_client, url(Session, "change", lisbon.pk))
    assert 'value="15/07/2030"' in form
    assert 'value="23:30:00"' in form

    response = superuser_client.post(
        url(Session, "change", lisbon.pk),
        {
            "movie": lisbon.movie_id,
            "room": lisbon.room_id,
            "starts_at_0": "15/07/2030",
            "starts_at_1": "23:45",
            "price": "25.00",
        },
    )

    assert response.status_code == 302
    lisbon.refresh_from_db()
    assert lisbon.starts_at == datetime(2030, 7, 15, 22, 45, tzinfo=UTC)


def test_the_cancellation_page_and_messages_name_sessions_in_local_time(
    superuser_client, sao_paulo
):
    selected = {"action": "cancel_sessions", "_selected_action": [sao_paulo.pk]}

    confirmation = superuser_client.post(url(Session, "changelist"), selected)
    superuser_client.post(url(Session, "changelist"), {**selected, "post": "yes"}, follow=True)
    again = superuser_client.post(
        url(Session, "changelist"), {**selected, "post": "yes"}, follow=True
    )

    assert "2030-07-15 19:30: 0 ingresso(s) vendido(s) em 0 venda(s)." in (
        confirmation.content.decode()
    )
    assert [str(m) for m in again.context["messages"]] == [
        f"{sao_paulo.movie} · {sao_paulo.room} · 2030-07-15 19:30 já estava cancelada."
    ]
