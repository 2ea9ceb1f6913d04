"""The door in the admin: the scan form checks tickets in through the check-in service, and a
session's page says how many are in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from apps.payments.models import Ticket
from tests.factories import PASSWORD, UserFactory, make_sale, make_session
from tests.helpers import outbox

SCAN_URL = "/admin/payments/ticket/scan/"


def admin_client(*codenames: str) -> Client:
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client(headers={"accept-language": "en"})
    assert client.login(email=user.email, password=PASSWORD)
    return client


@pytest.fixture
def tickets(db) -> list[Ticket]:
    session = make_session(starts_at=timezone.now() + timedelta(minutes=30))
    return list(make_sale(user=UserFactory(), session=session, seats=3).tickets.all())


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_scan_form_lets_a_ticket_in_once(tickets):
    client = admin_client("check_in_ticket", "view_ticket")
    ticket = tickets[0]

    page = client.get(SCAN_URL)
    first = client.post(SCAN_URL, {"code": ticket.code}, follow=True)
    second = client.post(SCAN_URL, {"code": ticket.code}, follow=True)

    assert page.status_code == 200
    assert 'name="code"' in page.content.decode()
    assert first.redirect_chain == [(SCAN_URL, 302)]
    [let_in] = messages_of(first)
    assert ticket.session_seat.seat.label in let_in
    [refused] = messages_of(second)
    assert "already used" in refused
    ticket.refresh_from_db()
    assert ticket.checked_in_at is not None
    assert len(outbox("ticket.checked_in")) == 1


def test_an_unknown_code_is_reported_and_changes_nothing(tickets):
    client = admin_client("check_in_ticket")

    response = client.post(SCAN_URL, {"code": "nope"}, follow=True)

    assert messages_of(response) == ["No ticket has this code."]
    assert not Ticket.objects.filter(checked_in_at__isnull=False).exists()


def test_staff_without_the_check_in_permission_cannot_open_the_form(tickets):
    client = admin_client("view_ticket")

    assert client.get(SCAN_URL).status_code == 403
    assert client.post(SCAN_URL, {"code": tickets[0].code}).status_code == 403
    assert not Ticket.objects.filter(checked_in_at__isnull=False).exists()


def test_the_tickets_list_links_to_the_scan_form_for_the_door_only(tickets):
    door = admin_client("check_in_ticket", "view_ticket").get("/admin/payments/ticket/")
    viewer = admin_client("view_ticket").get("/admin/payments/ticket/")

    assert SCAN_URL in door.content.decode()
    assert SCAN_URL not in viewer.content.decode()


def test_a_sessions_page_shows_how_many_are_in(tickets):
    session = tickets[0].sale.session
    client = admin_client("check_in_ticket", "view_session")
    client.post(SCAN_URL, {"code": tickets[0].code})

    page = client.get(f"/admin/screenings/session/{session.id}/change/")

    assert page.status_code == 200
    assert "1 of 3 ticket(s) in" in page.content.decode()
