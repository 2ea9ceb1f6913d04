"""The door: POST /api/v1/checkins lets a ticket in once, against the real PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from apps.payments import refunds
from apps.payments.models import Ticket
from apps.sessions.models import Session
from tests.concurrency import run_together
from tests.factories import UserFactory, make_sale, make_session
from tests.helpers import client_as, outbox

URL = "/api/v1/checkins"


def door_user():
    """A staff member who may check tickets in, through the permission alone."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="check_in_ticket"))
    return user


def soon_session(minutes: int = 30) -> Session:
    """A session starting in `minutes`: its check-in is open (it opens 60 min before)."""
    return make_session(starts_at=timezone.now() + timedelta(minutes=minutes))


def ticket_of(session: Session) -> Ticket:
    sale = make_sale(user=UserFactory(), session=session)
    return sale.tickets.get()


def scan(client: APIClient, code):
    return client.post(URL, {"code": code}, format="json")


@pytest.mark.django_db
def test_a_valid_ticket_is_let_in_once():
    session = soon_session()
    ticket = ticket_of(session)
    door = door_user()

    response = scan(client_as(door), ticket.code)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ticket"] == {
        "id": str(ticket.id),
        "code": ticket.code,
        "seat": {"id": ticket.session_seat_id, "label": ticket.session_seat.seat.label},
        "session": session.id,
        "type": "full",
    }
    ticket.refresh_from_db()
    assert ticket.checked_in_by == door
    assert datetime.fromisoformat(body["checked_in_at"]) == ticket.checked_in_at
    [event] = outbox("ticket.checked_in")
    assert event == {
        "ticket_id": str(ticket.id),
        "session_id": session.id,
        "checked_in_at": event["checked_in_at"],
    }
    # Events carry instants to the millisecond.
    assert abs(datetime.fromisoformat(event["checked_in_at"]) - ticket.checked_in_at) < timedelta(
        milliseconds=1
    )


@pytest.mark.django_db
def test_the_second_scan_says_when_the_ticket_was_used():
    ticket = ticket_of(soon_session())
    client = client_as(door_user())
    first = scan(client, ticket.code)

    second = scan(client, ticket.code)

    assert second.status_code == 409
    assert second["Content-Type"] == "application/problem+json"
    assert second.json()["code"] == "ticket_already_used"
    assert second.json()["checked_in_at"] == first.json()["checked_in_at"]
    assert len(outbox("ticket.checked_in")) == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_scanners_with_one_code_at_once_let_it_in_once():
    ticket = ticket_of(soon_session())
    doors = [door_user() for _ in range(20)]

    responses = run_together([lambda d=d: scan(client_as(d), ticket.code) for d in doors])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, [r.content for r in responses]
    [winner] = [r for r in responses if r.status_code == 200]
    losers = [r.json() for r in responses if r.status_code == 409]
    assert {body["code"] for body in losers} == {"ticket_already_used"}
    assert {body["checked_in_at"] for body in losers} == {winner.json()["checked_in_at"]}
    ticket.refresh_from_db()
    assert ticket.checked_in_at == datetime.fromisoformat(winner.json()["checked_in_at"])
    assert len(outbox("ticket.checked_in")) == 1


@pytest.mark.django_db
def test_a_refunded_ticket_is_void():
    session = soon_session()
    ticket = ticket_of(session)
    refunds.sale_refund(sale_id=ticket.sale_id)

    response = scan(client_as(door_user()), ticket.code)

    assert response.status_code == 409
    assert response.json()["code"] == "ticket_void"
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None
    assert outbox("ticket.checked_in") == []


@pytest.mark.django_db
def test_a_ticket_of_a_cancelled_session_is_void_before_its_refund_runs():
    session = soon_session()
    ticket = ticket_of(session)
    Session.objects.filter(pk=session.pk).update(status=Session.Status.CANCELLED)

    response = scan(client_as(door_user()), ticket.code)

    assert response.status_code == 409
    assert response.json()["code"] == "ticket_void"
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("starts_in", [timedelta(minutes=61), timedelta(days=2)])
def test_check_in_is_not_open_long_before_the_start(starts_in):
    session = make_session(starts_at=timezone.now() + starts_in)
    ticket = ticket_of(session)

    response = scan(client_as(door_user()), ticket.code)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "checkin_not_open"
    assert datetime.fromisoformat(body["opens_at"]) == session.starts_at - timedelta(minutes=60)
    assert datetime.fromisoformat(body["closes_at"]) == session.ends_at
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


@pytest.mark.django_db
def test_check_in_opens_as_configured(settings):
    settings.CHECKIN_OPENS_MINUTES = 120
    ticket = ticket_of(make_session(starts_at=timezone.now() + timedelta(minutes=90)))

    assert scan(client_as(door_user()), ticket.code).status_code == 200


@pytest.mark.django_db
def test_check_in_closes_when_the_session_ends():
    session = soon_session()
    ticket = ticket_of(session)
    # The session has since been shown: moved into the past behind the API's back.
    past = timezone.now() - timedelta(hours=3)
    Session.objects.filter(pk=session.pk).update(starts_at=past, ends_at=past + timedelta(hours=2))

    response = scan(client_as(door_user()), ticket.code)

    assert response.status_code == 409
    assert response.json()["code"] == "checkin_not_open"


@pytest.mark.django_db
def test_an_unknown_code_is_not_found():
    ticket_of(soon_session())

    response = scan(client_as(door_user()), "not-a-ticket-code")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "ticket_not_found"
    assert not Ticket.objects.filter(checked_in_at__isnull=False).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{}, {"code": ""}, {"code": 12345}, {"code": None}, {"code": ["x"]}, {"code": "x" * 65}],
)
def test_bad_input_is_a_400_and_changes_nothing(body):
    ticket_of(soon_session())

    response = client_as(door_user()).post(URL, body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid"
    assert not Ticket.objects.filter(checked_in_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_buyer_cannot_check_in_even_their_own_ticket():
    session = soon_session()
    buyer = UserFactory()
    ticket = make_sale(user=buyer, session=session).tickets.get()

    response = scan(client_as(buyer), ticket.code)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


@pytest.mark.django_db
def test_staff_without_the_check_in_permission_cannot_check_in():
    ticket = ticket_of(soon_session())

    response = scan(client_as(UserFactory(is_staff=True)), ticket.code)

    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


@pytest.mark.django_db
def test_anonymous_scans_are_refused(api):
    ticket = ticket_of(soon_session())

    response = scan(api, ticket.code)

    assert response.status_code == 401
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None
