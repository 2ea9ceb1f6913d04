"""The payment API with PAYMENT_PROVIDER=stripe, against a local Stripe stub and the official SDK:
card sales and declines, PIX settled by a signed webhook, webhooks refused, and Stripe failing or
slow (the attempt recorded before the call, finished by reconciliation, a retry charging once)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from apps.bookings import services as booking_services
from apps.bookings.models import Reservation, ReservationSeat
from apps.events.models import OutboxEvent
from apps.payments.models import Payment, Sale, Ticket, WebhookEvent
from apps.payments.reconciliation import reconcile_payment, reconcile_payments
from apps.payments.webhooks import webhook_event_process
from apps.sessions.models import Session
from tests.assertions import assert_problem
from tests.helpers import outbox, seat_map
from tests.payments.stripe_stub import (
    WEBHOOK_SECRET,
    make_event,
    signed_event,
)

pytestmark = pytest.mark.django_db

WEBHOOK_URL = "/api/v1/payments/webhooks/stripe"
CREATE = "/v1/payment_intents"
SEARCH = "/v1/payment_intents/search"


@pytest.fixture(autouse=True)
def _stripe(stripe_settings):
    stripe_settings.PAYMENT_PROVIDER = "stripe"


@pytest.fixture
def reservation(user, session) -> Reservation:
    """Two seats at 25.00: R$ 50,00, 5000 centavos."""
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:2])
    return booking_services.reservation_create(user=user, session_id=session.id, seat_ids=seats)


def pay(client, reservation_id, token: str, key: str | None = None):
    extra = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(
        f"/api/v1/reservations/{reservation_id}/payment", {"token": token}, format="json", **extra
    )


def post_webhook(client, payload: dict[str, Any], secret: str = WEBHOOK_SECRET, body=None):
    signed_body, header = signed_event(payload, secret)
    return client.post(
        WEBHOOK_URL,
        data=signed_body if body is None else body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )


def sold(before: dict[int, str], reservation: Reservation) -> dict[int, str]:
    """The seat map `before`, with the reservation's seats sold and nothing else changed."""
    seats = ReservationSeat.objects.filter(reservation=reservation)
    held = set(seats.values_list("session_seat_id", flat=True))
    assert len(held) == 2
    assert {before[seat] for seat in held} == {"held"}
    return {seat: "sold" if seat in held else status for seat, status in before.items()}


def hold_state(session: Session) -> dict[str, Any]:
    """The hold and everything a payment that did not succeed must leave as it was."""
    return {
        "sales": list(Sale.objects.values_list("id")),
        "tickets": list(Ticket.objects.values_list("id")),
        "reservations": sorted(
            Reservation.objects.values_list(
                "id", "status", "expires_at", "closed_at", "extended_at"
            )
        ),
        "reserved_seats": sorted(
            ReservationSeat.objects.values_list("reservation_id", "session_seat_id", "is_active")
        ),
        "seat_map": seat_map(session),
    }


def everything(session: Session) -> dict[str, Any]:
    return {
        **hold_state(session),
        "payments": sorted(Payment.objects.values_list("id", "status", "provider_reference")),
        "webhooks": list(WebhookEvent.objects.values_list("id")),
        "outbox": list(OutboxEvent.objects.values_list("seq")),
    }


# --- a card approved at once -----------------------------------------------------------------


def test_an_approved_card_is_a_sale_charged_in_centavos(user_api, user, session, reservation, stub):
    seats_before = seat_map(session)

    response = pay(user_api, reservation.id, "pm_card_visa")

    assert response.status_code == 201, response.content
    payment = Payment.objects.get()
    sale = Sale.objects.get()
    body = response.json()
    assert body["id"] == str(sale.id)
    assert body["reservation"] == str(reservation.id)
    assert body["total"] == "50.00"
    assert len(body["tickets"]) == 2
    [intent_id] = stub.intents
    assert payment.status == "succeeded"
    assert payment.provider == "stripe"
    assert payment.provider_reference == intent_id
    assert intent_id.startswith("pi_")
    assert (payment.amount, payment.currency) == (Decimal("50.00"), "BRL")
    assert sale.payment_id == payment.id
    assert Ticket.objects.filter(sale=sale).count() == 2
    [request] = stub.posts(CREATE)
    assert request.params["amount"] == "5000"
    assert request.params["currency"] == "brl"
    assert request.params["metadata"] == {"payment_id": str(payment.id)}
    assert request.params["payment_method"] == "pm_card_visa"
    assert request.headers["idempotency-key"] == payment.idempotency_key
    assert request.headers["authorization"] == "Bearer sk_test_local"
    assert stub.intents[intent_id]["amount_received"] == 5000
    reservation.refresh_from_db()
    assert reservation.status == "confirmed"
    assert seat_map(session) == sold(seats_before, reservation)
    assert len(outbox("payment.confirmed")) == 1


@pytest.mark.parametrize("token", ["pm_card_visa", "pm_card_chargeDeclined"])
def test_the_payment_records_its_method(user_api, reservation, stub, token):
    pay(user_api, reservation.id, token)

    payment = Payment.objects.get()
    assert payment.method == "card"
    assert user_api.get(f"/api/v1/payments/{payment.id}").json()["method"] == "card"


def test_a_declined_card_is_402_and_the_hold_stays(user_api, session, reservation, stub):
    before = hold_state(session)

    response = pay(user_api, reservation.id, "pm_card_chargeDeclined")

    assert_problem(response, 402, "payment_declined")
    payment = Payment.objects.get()
    [intent_id] = stub.intents
    assert payment.status == "failed"
    assert payment.failure_reason == "generic_decline"
    assert payment.provider_reference == intent_id
    assert stub.intents[intent_id]["amount_received"] == 0
    assert hold_state(session) == before
    assert [d["payment_id"] for d in outbox("payment.failed")] == [str(payment.id)]
    assert outbox("payment.confirmed") == []


# --- PIX: pending, then paid, announced by a signed webhook -----------------------------------


def test_pix_is_pending_then_the_webhook_makes_the_sale(
    user_api, user, session, reservation, stub, settings, api
):
    seats_before = seat_map(session)
    started = timezone.now()

    response = pay(user_api, reservation.id, "pix")

    assert response.status_code == 202, response.content
    payment = Payment.objects.get()
    body = response.json()
    assert response["Location"] == f"/api/v1/payments/{payment.id}"
    assert body["id"] == str(payment.id)
    assert body["status"] == "pending"
    assert body["method"] == "pix"
    assert body["amount"] == "50.00"
    [intent_id] = stub.intents
    qr = stub.intents[intent_id]["next_action"]["pix_display_qr_code"]
    assert body["next_action"] == {
        "type": "pix",
        "copy_paste": qr["data"],
        "qr_svg_url": qr["image_url_svg"],
        "expires_at": qr["expires_at"],
    }
    assert (payment.status, payment.method, payment.provider_reference) == (
        "pending",
        "pix",
        intent_id,
    )
    [request] = stub.posts(CREATE)
    assert request.params["payment_method_types"] == ["pix"]
    assert request.params["metadata"] == {"payment_id": str(payment.id)}
    reservation.refresh_from_db()
    assert reservation.status == "pending"
    assert reservation.expires_at >= started + timedelta(seconds=settings.PAYMENT_PENDING_SECONDS)
    assert reservation.extended_at is not None
    assert datetime.fromisoformat(body["expires_at"]) == reservation.expires_at
    [extended] = outbox("reservation.extended")
    assert extended["reservation_id"] == str(reservation.id)
    assert Sale.objects.count() == 0

    # The buyer pays in the bank app; Stripe announces it.
    intent = stub.settle(intent_id, "succeeded")
    event = make_event("payment_intent.succeeded", intent)
    hook = post_webhook(api, event)

    assert hook.status_code == 200, hook.content
    assert hook.json() == {"received": True, "duplicate": False}
    stored = WebhookEvent.objects.get()
    assert (stored.provider, stored.event_id, stored.type) == (
        "stripe",
        event["id"],
        "payment.succeeded",
    )
    assert (stored.payment_id, stored.reference) == (payment.id, intent_id)
    assert stored.processed_at is None
    payment.refresh_from_db()
    assert payment.status == "pending"  # stored only: the worker applies it

    assert webhook_event_process(event_pk=stored.pk) == "applied"

    payment.refresh_from_db()
    sale = Sale.objects.get()
    assert payment.status == "succeeded"
    assert sale.payment_id == payment.id
    assert Ticket.objects.filter(sale=sale).count() == 2
    reservation.refresh_from_db()
    assert reservation.status == "confirmed"
    assert seat_map(session) == sold(seats_before, reservation)
    detail = user_api.get(f"/api/v1/payments/{payment.id}")
    assert detail.status_code == 200
    shown = detail.json()
    assert shown["status"] == "succeeded"
    assert shown["sale"]["id"] == str(sale.id)
    assert shown["sale"]["total"] == "50.00"
    assert len(shown["sale"]["tickets"]) == 2

    # Stripe delivers the same event again: stored once, applied once.
    again = post_webhook(api, event)
    assert again.json() == {"received": True, "duplicate": True}
    assert WebhookEvent.objects.count() == 1
    assert Sale.objects.count() == 1


def test_an_expired_pix_code_fails_the_payment_and_the_hold_stays(
    user_api, session, reservation, stub, api
):
    assert pay(user_api, reservation.id, "pix").status_code == 202
    payment = Payment.objects.get()
    [intent_id] = stub.intents
    before = hold_state(session)
    intent = stub.settle(intent_id, "requires_payment_method")  # the code expired unpaid

    hook = post_webhook(api, make_event("payment_intent.payment_failed", intent))
    assert hook.status_code == 200, hook.content
    assert webhook_event_process(event_pk=WebhookEvent.objects.get().pk) == "applied"

    payment.refresh_from_db()
    assert payment.status == "failed"
    assert payment.failure_reason == "payment_intent_payment_attempt_expired"
    assert hold_state(session) == before  # no sale; the (extended) hold stays until its deadline
    assert [d["payment_id"] for d in outbox("payment.failed")] == [str(payment.id)]
    shown = user_api.get(f"/api/v1/payments/{payment.id}").json()
    assert (shown["status"], shown["sale"]) == ("failed", None)


def test_a_failed_payment_webhook_keeps_stripes_reason(user_api, reservation, stub, api):
    assert pay(user_api, reservation.id, "pix").status_code == 202
    [intent_id] = stub.intents
    intent = stub.settle(intent_id, "requires_payment_method")
    post_webhook(api, make_event("payment_intent.payment_failed", intent))
    webhook_event_process(event_pk=WebhookEvent.objects.get().pk)

    assert Payment.objects.get().failure_reason == "payment_intent_payment_attempt_expired"


@pytest.mark.parametrize("fault", ["another secret", "tampered body", "no header"])
def test_a_webhook_with_a_bad_signature_is_400_and_not_stored(
    user_api, session, reservation, stub, api, fault
):
    assert pay(user_api, reservation.id, "pix").status_code == 202
    [intent_id] = stub.intents
    intent = stub.settle(intent_id, "succeeded")
    payload = make_event("payment_intent.succeeded", intent)
    before = everything(session)

    if fault == "another secret":
        response = post_webhook(api, payload, secret="whsec_someone_else")
    elif fault == "tampered body":
        body, _ = signed_event(payload, WEBHOOK_SECRET)
        tampered = body.replace(b'"succeeded"', b'"canceled"')
        assert tampered != body
        response = post_webhook(api, payload, body=tampered)
    else:
        body, _ = signed_event(payload, WEBHOOK_SECRET)
        response = api.post(WEBHOOK_URL, data=body, content_type="application/json")

    assert_problem(response, 400, "invalid_signature")
    assert WebhookEvent.objects.count() == 0
    assert everything(session) == before
    assert Payment.objects.get().status == "pending"


# --- Stripe failing or slow ------------------------------------------------------------------


DOWN = {
    # mode: (status, code)
    "error": (502, "payment_provider_error"),
    "hang": (503, "payment_provider_unavailable"),
}


def _pay_while_down(user_api, session, reservation, stub, mode: str, key: str | None = None):
    """Pay while Stripe fails in `mode`; check the answer and that only the attempt was written.
    Returns the attempt."""
    stub.mode, stub.hang_seconds = mode, 1.5
    before = hold_state(session)
    outbox_before = list(OutboxEvent.objects.values_list("seq"))

    started = time.monotonic()
    response = pay(user_api, reservation.id, "pm_card_visa", key=key)

    status, code = DOWN[mode]
    assert_problem(response, status, code)
    if mode == "hang":
        assert response["Retry-After"] == "5"
    assert time.monotonic() - started < 5  # the timeout, not the SDK's 80 seconds
    payment = Payment.objects.get()
    assert payment.status == "processing"  # written before the call
    assert payment.provider_reference == ""
    assert hold_state(session) == before  # no sale, no ticket, the hold and seats as they were
    assert list(OutboxEvent.objects.values_list("seq")) == outbox_before
    reservation.refresh_from_db()
    assert reservation.status == "pending"
    assert len(stub.posts(CREATE)) == 1  # no retry by the SDK
    shown = user_api.get(f"/api/v1/payments/{payment.id}").json()
    assert (shown["status"], shown["sale"]) == ("processing", None)
    stub.mode = "ok"
    return payment


def test_a_stripe_error_is_502_and_reconciliation_finds_nothing_was_charged(
    user_api, session, reservation, stub, settings
):
    payment = _pay_while_down(user_api, session, reservation, stub, "error")
    assert stub.intents == {}  # a 500 acted on nothing
    before = hold_state(session)
    # Not in Stripe's search yet could still mean "not indexed yet": a young miss proves nothing.
    assert reconcile_payment(payment_id=payment.id) == "processing"
    assert len(stub.gets(SEARCH)) == 1
    Payment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.STRIPE_SEARCH_LAG_SECONDS + 1)
    )

    assert reconcile_payment(payment_id=payment.id) == "failed"

    payment.refresh_from_db()
    assert payment.status == "failed"
    assert payment.failure_reason == "provider_never_charged"
    assert payment.provider_reference == ""
    searches = stub.gets(SEARCH)
    assert [search.params for search in searches] == [
        {"query": f"metadata['payment_id']:'{payment.id}'"}
    ] * 2
    assert stub.intents == {}
    assert stub.refunds == {}
    assert len(stub.posts(CREATE)) == 1  # reconciliation never charges
    assert hold_state(session) == before  # the hold stays, to be paid again
    assert [d["reason"] for d in outbox("payment.failed")] == ["provider_never_charged"]


def test_a_slow_stripe_is_503_and_reconciliation_finds_the_charge(
    user_api, session, reservation, stub, settings
):
    seats_before = seat_map(session)
    payment = _pay_while_down(user_api, session, reservation, stub, "hang")
    [intent_id] = stub.intents  # Stripe was slow, not down: it charged
    assert stub.intents[intent_id]["status"] == "succeeded"
    assert stub.intents[intent_id]["metadata"] == {"payment_id": str(payment.id)}
    settings.PAYMENT_RECONCILE_AFTER_SECONDS = 0

    assert reconcile_payments() == 1

    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.provider_reference == intent_id
    sale = Sale.objects.get()
    assert sale.payment_id == payment.id
    assert Ticket.objects.filter(sale=sale).count() == 2
    reservation.refresh_from_db()
    assert reservation.status == "confirmed"
    assert seat_map(session) == sold(seats_before, reservation)
    assert payment.refund_requested_at is None  # the hold was still valid: nothing to give back
    assert len(stub.gets(SEARCH)) == 1
    assert len(stub.posts(CREATE)) == 1
    assert len(stub.intents) == 1
    assert len(outbox("payment.confirmed")) == 1


def test_a_retry_after_a_503_with_the_same_key_charges_once(user_api, session, reservation, stub):
    payment = _pay_while_down(user_api, session, reservation, stub, "hang", key="buyer-key-1")

    response = pay(user_api, reservation.id, "pm_card_visa", key="buyer-key-1")

    assert response.status_code == 201, response.content
    [intent_id] = stub.intents
    first, retry = stub.posts(CREATE)
    assert retry.headers["idempotency-key"] == first.headers["idempotency-key"]
    assert first.headers["idempotency-key"] == payment.idempotency_key
    assert payment.idempotency_key == str(uuid.uuid5(reservation.id, "buyer-key-1"))
    assert retry.params == first.params
    assert Payment.objects.count() == 1
    payment.refresh_from_db()
    assert (payment.status, payment.provider_reference) == ("succeeded", intent_id)
    sale = Sale.objects.get()
    assert response.json()["id"] == str(sale.id)
    assert stub.intents[intent_id]["amount_received"] == 5000

    # Replayed from now on, without asking Stripe again.
    replay = pay(user_api, reservation.id, "pm_card_visa", key="buyer-key-1")
    assert replay.status_code == 201
    assert replay.json() == response.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert len(stub.posts(CREATE)) == 2


def test_reconciliation_does_not_fail_a_charge_the_search_index_has_not_caught_up_with(
    user_api, session, reservation, stub, settings
):
    stub.freeze_search()  # Stripe's index lags: the intent about to be created is not in it yet
    payment = _pay_while_down(user_api, session, reservation, stub, "hang")
    [intent_id] = stub.intents
    assert stub.intents[intent_id]["status"] == "succeeded"  # the money was taken

    status = reconcile_payment(payment_id=payment.id)

    assert status == "processing"  # not known yet: ask again on the next pass


def test_after_a_502_the_buyer_pays_again_at_once_and_the_failed_attempt_is_closed_later(
    user_api, session, reservation, stub, settings
):
    first = _pay_while_down(user_api, session, reservation, stub, "error")

    again = pay(user_api, reservation.id, "pm_card_visa")

    assert again.status_code == 201, again.content  # the failed call blocks no new attempt
    sale = Sale.objects.get()
    assert sale.payment_id != first.id
    first.refresh_from_db()
    assert (first.status, first.call_failed_at is not None) == ("processing", True)
    Payment.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.STRIPE_SEARCH_LAG_SECONDS + 1)
    )
    assert reconcile_payment(payment_id=first.id) == "failed"
    assert Sale.objects.get() == sale
    assert Payment.objects.get(pk=sale.payment_id).status == "succeeded"
