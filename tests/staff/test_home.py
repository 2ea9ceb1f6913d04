"""The staff home page: today's and the next sessions of each cinema in its local time, with
held, sold and checked-in seats and revenue, and what needs attention, in a constant number of
queries."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.payments.models import Payment, Ticket
from apps.staff import selectors
from tests.factories import (
    CinemaFactory,
    DoorFactory,
    SuperuserFactory,
    UserFactory,
    hold,
    make_room,
    make_sale,
    make_session,
)

pytestmark = pytest.mark.django_db

# 10:00 in São Paulo (UTC-3), 09:00 in Manaus (UTC-4).
MORNING = datetime(2027, 3, 10, 13, 0, tzinfo=UTC)


@pytest.fixture
def morning():
    with time_machine.travel(MORNING, tick=True):
        yield


@pytest.fixture
def day(morning):
    """Paulista: a session tonight with a sale, one checked in, and one tomorrow. Manaus: a
    session starting within the hour with seats held."""
    paulista = CinemaFactory(name="Paulista", timezone="America/Sao_Paulo")
    tonight = make_session(
        room=make_room(cinema=paulista), starts_at=MORNING + timedelta(hours=9, minutes=30)
    )
    sale = make_sale(user=UserFactory(), session=tonight, seats=3)
    Ticket.objects.filter(pk=sale.tickets.order_by("pk").first().pk).update(checked_in_at=MORNING)
    tomorrow = make_session(
        room=tonight.room, starts_at=MORNING + timedelta(days=1, hours=2), price=Decimal("30")
    )
    manaus = CinemaFactory(name="Amazonas", city="Manaus", timezone="America/Manaus")
    soon = make_session(room=make_room(cinema=manaus), starts_at=MORNING + timedelta(minutes=50))
    hold(UserFactory(), soon, 2)
    return {"tonight": tonight, "tomorrow": tomorrow, "soon": soon, "sale": sale}


def home(client, user, language="en"):
    client.force_login(user)
    response = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response


def test_each_cinema_lists_today_and_the_next_sessions_with_their_figures(day):
    schedules = {s.cinema.name: s for s in selectors.cinema_schedules(now=MORNING)}

    paulista = schedules["Paulista"]
    assert [f.session for f in paulista.today] == [day["tonight"]]
    assert [f.session for f in paulista.next] == [day["tomorrow"]]
    tonight = paulista.today[0]
    assert (tonight.held, tonight.sold, tonight.checked_in) == (0, 3, 1)
    assert tonight.revenue == day["sale"].total
    assert tonight.seats == 20
    assert tonight.local_start.strftime("%H:%M") == "19:30"
    soon = schedules["Amazonas"].today[0]
    assert (soon.held, soon.sold, soon.revenue) == (2, 0, Decimal("0"))
    assert soon.local_start.strftime("%H:%M") == "09:50"


def test_the_page_shows_local_times_figures_and_what_needs_attention(client, day):
    Payment.objects.filter(pk=day["sale"].payment_id).update(needs_attention=True)

    response = home(client, SuperuserFactory())

    html = response.content.decode()
    assert "Paulista (São Paulo)" in html
    assert ">7:30 p.m.</a>" in html  # tonight, in São Paulo's time (22:30 UTC)
    assert ">9:50 a.m.</a>" in html  # in Manaus's time
    assert "R$ 75.00" in html
    assert "1 payment flagged by reconciliation or a refund" in html
    assert f"{day['soon']}: 2 seats still held, not paid" in html
    assert f"?session__id__exact={day['soon'].pk}&amp;status__exact=pending" in html


def test_the_links_of_the_page_open(client, day):
    client.force_login(SuperuserFactory())
    pending = client.get(
        reverse("admin:bookings_reservation_changelist"),
        {"session__id__exact": day["soon"].pk, "status__exact": "pending"},
    )
    flagged = client.get(
        reverse("admin:payments_payment_changelist"), {"needs_attention__exact": 1}
    )

    assert pending.status_code == 200
    assert pending.context["cl"].result_count == 1
    assert flagged.status_code == 200
    assert client.get(reverse("api-docs")).status_code == 200


def test_the_page_speaks_portuguese(client, day):
    html = home(client, SuperuserFactory(), "pt-br").content.decode()

    assert "Precisa de atenção" in html
    assert "Hoje" in html
    assert "Próximas" in html
    assert ">19:30</a>" in html
    assert "R$ 75,00" in html


def test_dead_letters_are_counted_per_queue(client, day, monkeypatch):
    monkeypatch.setattr(selectors, "dead_letter_counts", lambda queues: {queues[0]: 3})

    html = home(client, SuperuserFactory()).content.decode()

    assert "3 dead-lettered events" in html


def test_an_unreachable_broker_is_said_not_hidden(client, day, monkeypatch):
    monkeypatch.setattr(selectors, "dead_letter_counts", lambda queues: None)

    html = home(client, SuperuserFactory()).content.decode()

    assert "The event broker cannot be reached" in html


def test_the_door_sees_no_money_and_no_payments(client, day):
    response = home(client, DoorFactory())

    html = response.content.decode()
    assert "Revenue" not in html
    assert "payment" not in html.lower().split("needs attention")[-1].split("<table")[0]
    assert "dead-lettered" not in html
    assert "flagged_payments" not in response.context


def test_the_queries_do_not_grow_with_the_sessions(client, day, django_assert_max_num_queries):
    client.force_login(SuperuserFactory())
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("admin:index"))
    room = day["tonight"].room
    for hours in range(1, 6):
        session = make_session(room=room, starts_at=MORNING + timedelta(days=2, hours=3 * hours))
        hold(UserFactory(), session, 1)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("admin:index"))
    assert len(response.context["schedules"][1]["days"][1][1]) == 6
