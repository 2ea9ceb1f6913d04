"""Staff refund sales, cancel sessions (their sales refunded) and take over refunds automation
gave up on, from the admin, through the same services as the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.events.models import OutboxEvent
from apps.payments import refunds
from apps.payments.models import Payment, Sale, Ticket, WebhookEvent
from apps.sessions.models import Session
from tests.factories import UserFactory, make_sale, make_session

pytestmark = pytest.mark.django_db


def url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the texts below are the English ones
    return client


def test_the_refund_action_refunds_each_selected_sale_and_says_so(admin_client):
    session = make_session()
    buyer = UserFactory()
    first, second = make_sale(user=buyer, session=session), make_sale(user=buyer, session=session)

    response = admin_client.post(
        url(Sale, "changelist"),
        {"action": "refund_sales", "_selected_action": [str(first.pk), str(second.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert set(Sale.objects.values_list("status", flat=True)) == {"refunded"}
    assert not Ticket.objects.filter(voided_at__isnull=True).exists()
    assert Payment.objects.filter(refund_reason="requested").count() == 2
    messages = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("2 ") for m in messages), messages

    # Again: each is already refunded, a warning per sale, nothing changes.
    before = list(OutboxEvent.objects.values_list("seq", flat=True))
    again = admin_client.post(
        url(Sale, "changelist"),
        {"action": "refund_sales", "_selected_action": [str(first.pk)]},
        follow=True,
    )
    assert [m.level_tag for m in again.context["messages"]] == ["warning"]
    assert list(OutboxEvent.objects.values_list("seq", flat=True)) == before


def test_cancelling_asks_first_with_the_tickets_sold_and_that_they_are_refunded(admin_client):
    sold, unsold = make_session(), make_session()
    make_sale(user=UserFactory(), session=sold, seats=2)
    make_sale(user=UserFactory(), session=sold, seats=1)
    before = list(OutboxEvent.objects.values_list("seq", flat=True))

    page = admin_client.post(
        url(Session, "changelist"),
        {"action": "cancel_sessions", "_selected_action": [str(sold.pk), str(unsold.pk)]},
    )

    assert page.status_code == 200
    text = page.content.decode()
    assert "3 ticket(s) have been sold for these sessions. Cancelling refunds every sale" in text
    assert f"{sold}: 3 ticket(s) sold in 2 sale(s)." in text
    assert f"{unsold}: 0 ticket(s) sold in 0 sale(s)." in text
    assert 'name="post" value="yes"' in text
    # Nothing is cancelled until it is confirmed.
    assert set(Session.objects.values_list("status", flat=True)) == {"scheduled"}
    assert list(OutboxEvent.objects.values_list("seq", flat=True)) == before


def test_cancelling_sessions_in_the_admin_refunds_their_sales_with_progress_shown(admin_client):
    session = make_session()
    for _ in range(3):
        make_sale(user=UserFactory(), session=session)

    response = admin_client.post(
        url(Session, "changelist"),
        {"action": "cancel_sessions", "_selected_action": [str(session.pk)], "post": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.status == Session.Status.CANCELLED
    assert [str(m) for m in response.context["messages"]] == [
        "1 session(s) cancelled. 3 sale(s) with 3 ticket(s) are being refunded, "
        "and their buyers are e-mailed."
    ]
    assert OutboxEvent.objects.filter(type="session.cancelled").count() == 1
    page = admin_client.get(url(Session, "changelist"))
    assert "0 of 3 sale(s) refunded" in page.content.decode()

    refunds.refund_session_sales(session_id=session.id)  # what the queued task runs

    page = admin_client.get(url(Session, "change", session.pk))
    assert "3 of 3 sale(s) refunded" in page.content.decode()


def test_flagged_payments_are_filtered_and_their_refunds_queued_again(admin_client):
    sale = make_sale(user=UserFactory(), session=make_session())
    refunds.sale_refund(sale_id=sale.id, user=sale.user)
    Payment.objects.filter(pk=sale.payment_id).update(
        needs_attention=True, attention_reason="refused 9 times", refund_attempts=9
    )

    flagged = admin_client.get(url(Payment, "changelist"), {"needs_attention__exact": "1"})
    assert [p.pk for p in flagged.context["cl"].result_list] == [sale.payment_id]

    admin_client.post(
        url(Payment, "changelist"),
        {"action": "retry_refunds", "_selected_action": [str(sale.payment_id)]},
    )

    payment = Payment.objects.get(pk=sale.payment_id)
    assert (payment.needs_attention, payment.refund_attempts, payment.attention_reason) == (
        False,
        0,
        "",
    )
    assert refunds.payment_refund_at_provider(payment_id=payment.id)
    payment.refresh_from_db()
    assert payment.status == "refunded"


def test_webhook_events_are_listed_read_only(admin_client):
    WebhookEvent.objects.create(
        provider="fake", event_id="evt_1", type="payment.succeeded", payload={"id": "evt_1"}
    )

    listing = admin_client.get(url(WebhookEvent, "changelist"))

    assert listing.status_code == 200
    assert "evt_1" in listing.content.decode()
    assert admin_client.get(url(WebhookEvent, "add")).status_code == 403


def test_a_session_already_cancelled_is_said_so_and_left_alone(admin_client):
    cancelled, other = make_session(), make_session()
    refunds.session_cancel(session_id=cancelled.pk)
    selected = {"action": "cancel_sessions", "_selected_action": [cancelled.pk, other.pk]}

    page = admin_client.post(url(Session, "changelist"), selected)
    response = admin_client.post(
        url(Session, "changelist"), {**selected, "post": "yes"}, follow=True
    )

    assert "Already cancelled, left as they are:" in page.content.decode()
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("warning", f"{cancelled} was already cancelled."),
        (
            "success",
            "1 session(s) cancelled. 0 sale(s) with 0 ticket(s) are being refunded, "
            "and their buyers are e-mailed.",
        ),
    ]
    assert OutboxEvent.objects.filter(type="session.cancelled").count() == 2
