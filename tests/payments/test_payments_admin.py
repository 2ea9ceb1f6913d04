"""The Django admin of sales, tickets and payments: read-only, filterable by session and date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.bookings import services as booking_services
from apps.payments import services as payment_services
from apps.payments.models import Payment, Sale, Ticket
from tests.factories import UserFactory, make_sale, make_session

pytestmark = pytest.mark.django_db

MODELS = [Sale, Ticket, Payment]


def url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def sales():
    """Two sales in two sessions: an old one (30 days ago) and one paid just now."""
    buyer = UserFactory()
    old = make_sale(user=buyer, session=make_session(), seats=2)
    new = make_sale(user=buyer, session=make_session(), seats=1)
    old_paid_at = timezone.now() - timedelta(days=30)
    Sale.objects.filter(pk=old.pk).update(paid_at=old_paid_at)
    old.paid_at = old_paid_at
    return old, new


def listed(response) -> list:
    assert response.status_code == 200, response.status_code
    return list(response.context["cl"].result_list)


def last_7_days() -> dict[str, str]:
    """The admin's own "Past 7 days" link of a date filter."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return {"gte": str(today - timedelta(days=7)), "lt": str(today + timedelta(days=1))}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_changelist_and_change_page_render(admin_client, sales, model):
    obj = model.objects.order_by("pk").first()

    changelist = admin_client.get(url(model, "changelist"))
    change = admin_client.get(url(model, "change", obj.pk))

    assert changelist.status_code == 200
    assert len(changelist.context["cl"].result_list) == model.objects.count()
    assert change.status_code == 200
    # Read-only: a view page without save buttons.
    assert 'name="_save"' not in change.content.decode()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_add_page_is_forbidden(admin_client, sales, model):
    before = model.objects.count()

    response = admin_client.get(url(model, "add"))

    assert response.status_code == 403
    assert model.objects.count() == before


def test_sale_cannot_be_changed_or_deleted(admin_client, sales):
    old, _new = sales
    before = list(Sale.objects.order_by("pk").values_list("pk", "total", "paid_at"))

    change = admin_client.post(url(Sale, "change", old.pk), {"total": "0.00"})
    delete = admin_client.post(url(Sale, "delete", old.pk), {"post": "yes"})

    assert change.status_code == 403
    assert delete.status_code == 403
    assert list(Sale.objects.order_by("pk").values_list("pk", "total", "paid_at")) == before
    assert Ticket.objects.count() == 3


def test_sale_change_page_shows_its_tickets(admin_client, sales):
    old, _new = sales

    response = admin_client.get(url(Sale, "change", old.pk))

    html = response.content.decode()
    for code in old.tickets.values_list("code", flat=True):
        assert code in html


def test_sales_filter_by_session(admin_client, sales):
    _old, new = sales

    response = admin_client.get(url(Sale, "changelist"), {"session__id__exact": new.session_id})

    assert listed(response) == [new]


def test_sales_filter_by_cinema(admin_client, sales):
    old, _new = sales
    cinema_id = old.session.room.cinema_id

    response = admin_client.get(
        url(Sale, "changelist"), {"session__room__cinema__id__exact": cinema_id}
    )

    assert listed(response) == [old]


def test_sales_filter_by_date(admin_client, sales):
    _old, new = sales
    week = last_7_days()

    response = admin_client.get(
        url(Sale, "changelist"), {"paid_at__gte": week["gte"], "paid_at__lt": week["lt"]}
    )

    assert listed(response) == [new]


def test_sales_date_hierarchy(admin_client, sales):
    old, _new = sales
    paid = timezone.localtime(old.paid_at)

    response = admin_client.get(
        url(Sale, "changelist"),
        {"paid_at__year": paid.year, "paid_at__month": paid.month, "paid_at__day": paid.day},
    )

    assert listed(response) == [old]


def test_sales_search_by_ticket_code(admin_client, sales):
    old, _new = sales
    code = old.tickets.first().code

    response = admin_client.get(url(Sale, "changelist"), {"q": code})

    assert listed(response) == [old]


def test_tickets_filter_by_session_and_date(admin_client, sales):
    old, new = sales
    week = last_7_days()

    by_session = admin_client.get(
        url(Ticket, "changelist"), {"sale__session__id__exact": old.session_id}
    )
    by_date = admin_client.get(
        url(Ticket, "changelist"),
        {"sale__paid_at__gte": week["gte"], "sale__paid_at__lt": week["lt"]},
    )

    assert sorted(t.pk for t in listed(by_session)) == sorted(
        old.tickets.values_list("pk", flat=True)
    )
    assert [t.pk for t in listed(by_date)] == list(new.tickets.values_list("pk", flat=True))


def test_payments_filter_by_status(admin_client, sales):
    buyer = UserFactory()
    session = make_session()
    seat = session.seats.order_by("id").first()
    reservation = booking_services.reservation_create(
        user=buyer, session_id=session.id, seat_ids=[seat.id]
    )
    declined = payment_services.payment_start(
        reservation_id=reservation.id, user=buyer, token="tok_declined"
    )
    assert (declined.status, declined.failure_reason) == ("failed", "card_declined")

    response = admin_client.get(url(Payment, "changelist"), {"status__exact": "failed"})
    succeeded = admin_client.get(url(Payment, "changelist"), {"status__exact": "succeeded"})

    assert listed(response) == [declined]
    assert sorted(p.pk for p in listed(succeeded)) == sorted(s.payment_id for s in sales)
