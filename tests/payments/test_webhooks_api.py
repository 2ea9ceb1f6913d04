"""POST /api/v1/payments/webhooks/{provider}: signed events stored once, then processed once."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

import pytest

from apps.bookings.models import Reservation
from apps.payments import services, webhooks
from apps.payments.lifecycle import PaymentStatus
from apps.payments.models import FakeProviderPayment, Payment, Sale, Ticket, WebhookEvent
from apps.payments.providers.base import Outcome, ProviderPayment
from apps.payments.providers.fake import FakeProvider
from apps.payments.refunds import payment_refund_at_provider
from tests.assertions import assert_problem
from tests.factories import hold, make_overdue
from tests.helpers import outbox, seat_ids, seat_map
from tests.payments.helpers import (
    WEBHOOK_URL,
    capture_sandbox_webhooks,
    counts,
    event_body,
    pay,
    post_webhook,
    receive,
    signature,
    state,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reservation(user, session) -> Reservation:
    return hold(user, session, 2)


@pytest.fixture
def pending(user_api, reservation) -> Payment:
    """A PIX payment started through the API: pending, the hold extended."""
    response = pay(user_api, reservation.id, "tok_pix")
    assert response.status_code == 202, response.content
    payment = Payment.objects.get(pk=response.json()["id"])
    assert payment.status == PaymentStatus.PENDING
    return payment


def process(event: WebhookEvent) -> str:
    return webhooks.webhook_event_process(event_pk=event.pk)


def deliver(api, payment_id, event_type: str = "payment.succeeded", **kwargs) -> str:
    """Receive a signed event over HTTP and process it, as the worker would."""
    return process(receive(api, event_body(payment_id, event_type, **kwargs)))


# --- receiving -------------------------------------------------------------------------------


def test_a_signed_event_is_stored_and_answered_200(api, pending):
    before = counts()
    body = event_body(pending.id, event_id="evt_one")

    response = post_webhook(api, body)

    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "duplicate": False}
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_id, event.type, event.payment_id) == (
        "fake",
        "evt_one",
        "payment.succeeded",
        pending.id,
    )
    assert event.payload == json.loads(body)
    assert event.processed_at is None
    assert event.outcome == ""
    # Stored, not applied: the worker does that.
    assert counts() == {**before, "webhooks": before["webhooks"] + 1}
    assert Payment.objects.get(pk=pending.pk).status == PaymentStatus.PENDING


def test_the_same_event_twice_is_stored_once(api, pending):
    body = event_body(pending.id, event_id="evt_twice")
    assert post_webhook(api, body).status_code == 200
    first = WebhookEvent.objects.get()
    before = state()

    # Redelivered later, with a fresh signature over the same body.
    response = post_webhook(api, body)

    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "duplicate": True}
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [first.pk]
    assert state() == before


def _tampered(body: bytes) -> dict:
    return {"header": signature(body), "body": body.replace(b"50.00", b"0.01")}


BAD_DELIVERIES = {
    "tampered_body": _tampered,
    "wrong_secret": lambda body: {"header": signature(body, secret="not-the-secret")},
    "ten_minutes_old": lambda body: {"header": signature(body, timestamp=int(time.time()) - 600)},
    "ten_minutes_ahead": lambda body: {"header": signature(body, timestamp=int(time.time()) + 600)},
    "missing_header": lambda body: {"header": None},
    "empty_header": lambda body: {"header": ""},
    "header_without_timestamp": lambda body: {
        "header": signature(body).split(",", 1)[1]  # only v1=...
    },
    "header_without_mac": lambda body: {"header": signature(body).split(",", 1)[0]},
}


@pytest.mark.parametrize("case", BAD_DELIVERIES)
def test_a_bad_signature_is_400_and_stores_nothing(api, pending, case):
    body = event_body(pending.id)
    delivery = {"body": body, **BAD_DELIVERIES[case](body)}
    before = state()

    response = post_webhook(api, delivery["body"], header=delivery["header"])

    assert_problem(response, 400, "invalid_signature")
    assert state() == before
    assert not WebhookEvent.objects.exists()


NOT_EVENTS = {
    "not_json": b"payment succeeded",
    "json_list": b"[1, 2, 3]",
    "no_type": json.dumps({"id": "evt_x", "created": 1, "data": {"payment_id": str(uuid.uuid4())}}),
    "no_id": json.dumps(
        {"type": "payment.succeeded", "created": 1, "data": {"payment_id": str(uuid.uuid4())}}
    ),
    "no_data": json.dumps({"id": "evt_x", "type": "payment.succeeded", "created": 1}),
    "payment_id_not_a_uuid": json.dumps(
        {"id": "evt_x", "type": "payment.succeeded", "created": 1, "data": {"payment_id": "7"}}
    ),
    "created_not_a_number": json.dumps(
        {
            "id": "evt_x",
            "type": "payment.succeeded",
            "created": "yesterday",
            "data": {"payment_id": str(uuid.uuid4())},
        }
    ),
}


@pytest.mark.parametrize("case", NOT_EVENTS)
def test_a_signed_body_that_is_not_an_event_is_400_and_stores_nothing(api, pending, case):
    body = NOT_EVENTS[case]
    body = body if isinstance(body, bytes) else body.encode()
    before = state()

    response = post_webhook(api, body)

    assert_problem(response, 400, "invalid_signature")
    assert state() == before


@pytest.mark.parametrize("provider", ["paypal", "stripe", "FAKE"])
def test_an_unknown_provider_is_404(api, pending, settings, provider):
    settings.STRIPE_WEBHOOK_SECRET = ""  # Stripe is not configured here
    body = event_body(pending.id)
    before = state()

    response = post_webhook(api, body, provider=provider)

    assert_problem(response, 404, "not_found")
    assert state() == before


def test_the_fake_provider_is_404_while_another_provider_is_in_use(api, pending, settings):
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_WEBHOOK_SECRET = ""
    before = state()

    response = post_webhook(api, event_body(pending.id))

    assert_problem(response, 404, "not_found")
    assert state() == before


def test_webhooks_need_no_session_and_ignore_one(user_api, pending):
    # A session token is neither needed nor used: the signature is the credential.
    response = user_api.post(
        WEBHOOK_URL, data=b"{}", content_type="application/json", HTTP_CINEMA_SIGNATURE="t=1"
    )
    assert_problem(response, 400, "invalid_signature")
    assert not WebhookEvent.objects.exists()


def test_an_event_for_an_unknown_payment_is_stored_then_changes_nothing(api, pending):
    unknown = uuid.uuid4()
    response = post_webhook(api, event_body(unknown, event_id="evt_stranger"))
    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get()
    assert event.payment_id == unknown
    before = state()

    assert process(event) == "unknown_payment"

    event.refresh_from_db()
    assert event.outcome == "unknown_payment"
    assert event.processed_at is not None
    after = state()
    assert after.pop("webhooks") != before.pop("webhooks")
    assert after == before
    assert Payment.objects.get(pk=pending.pk).status == PaymentStatus.PENDING


# --- processing ------------------------------------------------------------------------------


def test_a_success_turns_the_pending_payment_into_the_sale(api, user_api, pending, reservation):
    before = counts()

    assert deliver(api, pending.id) == "applied"

    payment = Payment.objects.get(pk=pending.pk)
    assert payment.status == PaymentStatus.SUCCEEDED
    sale = Sale.objects.get()
    assert (sale.payment_id, sale.reservation_id, sale.total, sale.status) == (
        pending.id,
        reservation.id,
        Decimal("50.00"),
        Sale.Status.PAID,
    )
    tickets = list(Ticket.objects.order_by("session_seat_id"))
    assert [t.session_seat_id for t in tickets] == seat_ids(reservation.session, 2)
    assert all(t.sale_id == sale.id and t.voided_at is None for t in tickets)
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.CONFIRMED
    assert set(seat_map(reservation.session).values()) == {"sold", "available"}
    assert [v for v in seat_map(reservation.session).values() if v == "sold"] == ["sold"] * 2
    [confirmed] = outbox("payment.confirmed")
    assert confirmed["sale_id"] == str(sale.id)
    assert confirmed["reservation_id"] == str(reservation.id)
    assert confirmed["seat_ids"] == seat_ids(reservation.session, 2)
    assert confirmed["total"] == "50.00"
    assert counts()["sales"] == before["sales"] + 1
    assert counts()["tickets"] == before["tickets"] + 2
    event = WebhookEvent.objects.get()
    assert event.outcome == "applied"
    assert event.processed_at is not None
    # The buyer sees it.
    body = user_api.get(f"/api/v1/payments/{pending.id}").json()
    assert body["status"] == "succeeded"
    assert body["sale"]["id"] == str(sale.id)


def test_processing_one_stored_event_twice_applies_it_once(api, pending):
    event = receive(api, event_body(pending.id))
    assert process(event) == "applied"
    before = state()

    assert process(event) == "duplicate"

    assert state() == before
    assert Sale.objects.count() == 1
    assert len(outbox("payment.confirmed")) == 1


def test_a_failure_after_the_success_is_ignored(api, pending):
    assert deliver(api, pending.id, "payment.succeeded") == "applied"
    before = state()

    assert deliver(api, pending.id, "payment.failed") == "applied"

    after = state()
    after.pop("webhooks")
    before.pop("webhooks")
    assert after == before
    payment = Payment.objects.get(pk=pending.pk)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.failure_reason == ""
    assert outbox("payment.failed") == []
    assert Sale.objects.get().status == Sale.Status.PAID


def test_a_refund_before_the_success_leaves_it_refunded_without_a_sale(api, pending, reservation):
    assert deliver(api, pending.id, "refund.succeeded") == "applied"

    payment = Payment.objects.get(pk=pending.pk)
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refund_reason == Payment.RefundReason.LATE
    assert payment.refunded_at is not None
    [refunded] = outbox("payment.refunded")
    assert refunded == {
        "payment_id": str(pending.id),
        "reservation_id": str(reservation.id),
        "session_id": reservation.session_id,
        "seat_ids": [],
        "sale_id": None,
        "amount": "50.00",
        "reason": "late",
    }
    before = state()

    assert deliver(api, pending.id, "payment.succeeded") == "applied"

    after = state()
    after.pop("webhooks")
    before.pop("webhooks")
    assert after == before
    assert Payment.objects.get(pk=pending.pk).status == PaymentStatus.REFUNDED
    assert not Sale.objects.exists()
    assert not Ticket.objects.exists()
    assert outbox("payment.confirmed") == []
    # Nothing was sold: the seats are only the buyer's unpaid hold, free once its deadline passes.
    assert "sold" not in seat_map(reservation.session).values()
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.PENDING
    make_overdue(reservation)
    assert set(seat_map(reservation.session).values()) == {"available"}


def test_two_events_that_both_say_succeeded_make_one_sale(api, pending):
    assert deliver(api, pending.id, event_id="evt_a") == "applied"
    before = state()

    assert deliver(api, pending.id, event_id="evt_b") == "applied"

    after = state()
    assert len(after.pop("webhooks")) == 2
    before.pop("webhooks")
    assert after == before
    assert Sale.objects.count() == 1
    assert Ticket.objects.count() == 2
    assert len(outbox("payment.confirmed")) == 1


def test_a_failure_fails_the_payment_and_keeps_the_hold(api, user_api, pending, reservation):
    held = Reservation.objects.get(pk=reservation.pk)
    before = counts()

    assert deliver(api, pending.id, "payment.failed", reason="insufficient_funds") == "applied"

    payment = Payment.objects.get(pk=pending.pk)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == "insufficient_funds"
    assert outbox("payment.failed") == [
        {
            "payment_id": str(pending.id),
            "reservation_id": str(reservation.id),
            "reason": "insufficient_funds",
        }
    ]
    after = Reservation.objects.get(pk=reservation.pk)
    assert after.status == Reservation.Status.PENDING
    assert after.expires_at == held.expires_at
    assert after.extended_at == held.extended_at
    assert set(seat_map(reservation.session).values()) == {"held", "available"}
    assert counts() == {
        **before,
        "webhooks": before["webhooks"] + 1,
        "outbox": before["outbox"] + 1,
    }
    # The buyer can try again on the same hold.
    retry = pay(user_api, reservation.id, "tok_visa")
    assert retry.status_code == 201, retry.content


def test_a_failure_without_a_reason_is_recorded_as_failed(api, pending):
    assert deliver(api, pending.id, "payment.failed") == "applied"
    payment = Payment.objects.get(pk=pending.pk)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == "failed"


def test_a_success_after_the_deadline_is_refunded_as_late(
    api, user_api, pending, reservation, monkeypatch
):
    sandbox = capture_sandbox_webhooks(monkeypatch)
    # The buyer pays in their bank app: the sandbox settles its ledger and announces it ...
    assert FakeProvider().settle(payment_id=pending.id, succeeded=True)
    [announced] = sandbox
    # ... but the hold's deadline passed before the webhook arrived.
    make_overdue(reservation)

    assert process(receive(api, announced)) == "applied"

    payment = Payment.objects.get(pk=pending.pk)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.refund_reason == Payment.RefundReason.LATE
    assert payment.refund_requested_at is not None
    assert payment.refunded_at is None
    assert not Sale.objects.exists()
    assert not Ticket.objects.exists()
    assert outbox("payment.confirmed") == []
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.PENDING

    # The refund task's work.
    assert payment_refund_at_provider(payment_id=pending.id) is True

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_at is not None
    assert FakeProviderPayment.objects.get(payment_id=pending.id).status == "refunded"
    assert outbox("payment.refunded") == [
        {
            "payment_id": str(pending.id),
            "reservation_id": str(reservation.id),
            "session_id": reservation.session_id,
            "seat_ids": [],
            "sale_id": None,
            "amount": "50.00",
            "reason": "late",
        }
    ]
    assert not Sale.objects.exists()
    assert set(seat_map(reservation.session).values()) == {"available"}
    # The provider's own refund.succeeded webhook then changes nothing.
    [_settled, refund_announced] = sandbox
    assert json.loads(refund_announced)["type"] == "refund.succeeded"
    before = state()
    assert process(receive(api, refund_announced)) == "applied"
    after = state()
    after.pop("webhooks")
    before.pop("webhooks")
    assert after == before


def test_a_webhook_overtaking_the_api_answer_wins(api, user, reservation, monkeypatch):
    """The provider's webhook arrives while the API thread still waits for create_payment's
    answer: the payment is still `processing`. The success is applied; the API thread's late
    `pending` then changes nothing."""
    sandbox = capture_sandbox_webhooks(monkeypatch)
    payment = Payment.objects.create(
        reservation=reservation,
        user=user,
        amount=reservation.total,
        currency="BRL",
        provider="fake",
        idempotency_key="key-overtaken",
    )
    answered = FakeProvider().create_payment(
        payment_id=payment.id,
        amount=payment.amount,
        currency="BRL",
        token="tok_pix",
        idempotency_key="key-overtaken",
    )
    assert answered.status == Outcome.PENDING
    assert FakeProvider().settle(payment_id=payment.id, succeeded=True)
    [announced] = sandbox
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PROCESSING

    assert process(receive(api, announced)) == "applied"

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_reference == answered.reference
    sale = Sale.objects.get(payment=payment)
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.CONFIRMED
    before = state()

    # What the API thread does next with the answer it got.
    applied = services.payment_apply(payment_id=payment.id, observed=answered, source="api")

    assert applied.status == PaymentStatus.SUCCEEDED
    assert state() == before
    assert Sale.objects.get(payment=payment) == sale
    assert outbox("payment.pending") == []
    assert outbox("reservation.extended") == []
    assert Reservation.objects.get(pk=reservation.pk).extended_at is None


def test_a_failure_reported_to_the_api_after_the_webhook_success_changes_nothing(api, pending):
    assert deliver(api, pending.id) == "applied"
    before = state()

    services.payment_apply(
        payment_id=pending.id,
        observed=ProviderPayment(
            reference=pending.provider_reference, status=Outcome.FAILED, failure_reason="late"
        ),
        source="reconciliation",
    )

    assert state() == before


def test_an_ignored_report_does_not_rewrite_the_payment(api, pending):
    assert deliver(api, pending.id, event_id="evt_first") == "applied"
    updated_at = Payment.objects.get(pk=pending.pk).updated_at

    assert deliver(api, pending.id, event_id="evt_again") == "applied"
    assert deliver(api, pending.id, "payment.failed") == "applied"

    assert Payment.objects.get(pk=pending.pk).updated_at == updated_at


def test_a_refund_at_the_provider_by_someone_else_voids_the_sale(api, pending, reservation):
    assert deliver(api, pending.id) == "applied"
    sale = Sale.objects.get()

    # Refunded in the provider's dashboard: only its webhook tells the app.
    assert deliver(api, pending.id, "refund.succeeded") == "applied"

    payment = Payment.objects.get(pk=pending.pk)
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refund_reason == Payment.RefundReason.REQUESTED
    sale.refresh_from_db()
    assert sale.status == Sale.Status.REFUNDED
    assert not Ticket.objects.filter(voided_at__isnull=True).exists()
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.REFUNDED
    assert set(seat_map(reservation.session).values()) == {"available"}
    assert outbox("payment.refunded") == [
        {
            "payment_id": str(pending.id),
            "reservation_id": str(reservation.id),
            "session_id": reservation.session_id,
            "seat_ids": sorted(sale.tickets.values_list("session_seat_id", flat=True)),
            "sale_id": str(sale.id),
            "amount": "50.00",
            "reason": "requested",
        }
    ]
    assert sorted(e["seat_id"] for e in outbox("seat.released")) == seat_ids(reservation.session, 2)


def test_a_late_success_without_a_reference_can_still_be_refunded(api, user, reservation):
    payment = Payment.objects.create(
        reservation=reservation,
        user=user,
        amount=reservation.total,
        provider="fake",
        idempotency_key="key-lost-answer",
    )
    FakeProvider().create_payment(
        payment_id=payment.id,
        amount=payment.amount,
        currency="BRL",
        token="tok_visa",
        idempotency_key="key-lost-answer",
    )
    make_overdue(reservation)
    assert deliver(api, payment.id) == "applied"
    payment.refresh_from_db()
    assert (payment.status, payment.refund_reason) == (PaymentStatus.SUCCEEDED, "late")
    assert payment.provider_reference == ""

    assert payment_refund_at_provider(payment_id=payment.id) is True

    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REFUNDED
