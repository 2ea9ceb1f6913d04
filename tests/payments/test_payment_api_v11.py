"""Contract v1.1 of paying: payments that settle later (202), the payment resource, the sandbox."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from apps.bookings.models import Reservation
from apps.payments import services
from apps.payments.lifecycle import PaymentStatus
from apps.payments.models import FakeProviderPayment, Payment
from apps.payments.providers.base import Outcome, ProviderPayment
from tests.assertions import assert_problem, field_errors
from tests.conftest import client_for
from tests.factories import UserFactory, hold
from tests.helpers import outbox
from tests.payments.helpers import (
    capture_sandbox_webhooks,
    counts,
    pay,
    pay_url,
    state,
)

pytestmark = pytest.mark.django_db

NEXT_ACTION_TYPES = {"tok_pix": ("pix", "pix"), "tok_3ds": ("card", "redirect")}


@pytest.fixture
def reservation(user, session) -> Reservation:
    return hold(user, session, 2)


@pytest.fixture
def other_api(db) -> APIClient:
    return client_for(UserFactory())


def start(client, reservation, token: str = "tok_pix") -> Payment:  # noqa: S107
    response = pay(client, reservation.id, token)
    assert response.status_code == 202, response.content
    return Payment.objects.get(pk=response.json()["id"])


def sandbox(client, payment_id, outcome="succeeded"):
    return client.post(
        f"/api/v1/payments/{payment_id}/sandbox", {"outcome": outcome}, format="json"
    )


# --- 202: a payment that settles later ---------------------------------------------------------


@pytest.mark.parametrize("token", ["tok_pix", "tok_3ds"])
def test_a_payment_that_settles_later_is_202_and_extends_the_hold(
    user_api, reservation, settings, token
):
    method, action = NEXT_ACTION_TYPES[token]
    before = timezone.now()
    assert reservation.expires_at < before + timedelta(seconds=settings.PAYMENT_PENDING_SECONDS)

    response = pay(user_api, reservation.id, token)

    assert response.status_code == 202, response.content
    body = response.json()
    payment = Payment.objects.get()
    assert set(body) == {"id", "status", "method", "amount", "expires_at", "next_action"}
    assert body["id"] == str(payment.id)
    assert body["status"] == "pending"
    assert body["method"] == method
    assert body["amount"] == "50.00"
    assert response["Location"] == f"/api/v1/payments/{payment.id}"
    if action == "pix":
        assert body["next_action"] == {
            "type": "pix",
            "copy_paste": body["next_action"]["copy_paste"],
            "qr_svg_url": f"/api/v1/payments/{payment.id}/sandbox/pix.svg",
        }
        assert body["next_action"]["copy_paste"].startswith("000201")
        assert "br.gov.bcb.pix" in body["next_action"]["copy_paste"]
    else:
        assert body["next_action"] == {
            "type": "redirect",
            "url": f"/api/v1/payments/{payment.id}/sandbox",
        }
    expires_at = parse_datetime(body["expires_at"])
    assert expires_at >= before + timedelta(seconds=settings.PAYMENT_PENDING_SECONDS)
    assert expires_at <= timezone.now() + timedelta(seconds=settings.PAYMENT_PENDING_SECONDS)

    held = Reservation.objects.get(pk=reservation.pk)
    assert held.status == Reservation.Status.PENDING
    assert held.expires_at == expires_at
    assert held.extended_at is not None
    shown = user_api.get(f"/api/v1/reservations/{reservation.id}")
    assert shown.status_code == 200
    assert parse_datetime(shown.json()["expires_at"]) == expires_at
    assert shown.json()["status"] == "pending"

    assert (payment.status, payment.method, payment.provider) == ("pending", method, "fake")
    assert payment.provider_reference.startswith("fpi_")
    assert payment.next_action == body["next_action"]
    assert FakeProviderPayment.objects.get().status == Outcome.PENDING
    assert outbox("payment.pending") == [
        {
            "payment_id": str(payment.id),
            "reservation_id": str(reservation.id),
            "method": method,
            "amount": "50.00",
        }
    ]
    [extended] = outbox("reservation.extended")
    assert extended["reservation_id"] == str(reservation.id)
    # The outbox's JSON keeps milliseconds.
    assert abs(parse_datetime(extended["expires_at"]) - expires_at) < timedelta(milliseconds=1)
    assert outbox("payment.confirmed") == []


def test_the_hold_is_extended_only_once(user_api, reservation):
    first = start(user_api, reservation)
    extended = Reservation.objects.get(pk=reservation.pk)
    # The first PIX fails (the buyer's bank refused it).
    services.payment_apply(
        payment_id=first.id,
        observed=ProviderPayment(
            reference=first.provider_reference, status=Outcome.FAILED, failure_reason="expired"
        ),
        source="webhook",
    )
    assert Payment.objects.get(pk=first.pk).status == PaymentStatus.FAILED

    response = pay(user_api, reservation.id, "tok_pix")

    assert response.status_code == 202, response.content
    second = Payment.objects.get(pk=response.json()["id"])
    assert second.id != first.id
    assert second.status == PaymentStatus.PENDING
    again = Reservation.objects.get(pk=reservation.pk)
    assert (again.expires_at, again.extended_at) == (extended.expires_at, extended.extended_at)
    assert parse_datetime(response.json()["expires_at"]) == extended.expires_at
    assert len(outbox("reservation.extended")) == 1
    assert [e["payment_id"] for e in outbox("payment.pending")] == [str(first.id), str(second.id)]


@pytest.mark.parametrize("token", ["tok_pix", "tok_visa", "tok_declined"])
def test_a_second_payment_while_one_is_pending_is_409(user_api, reservation, token):
    first = start(user_api, reservation)
    before = state()

    response = pay(user_api, reservation.id, token)

    body = assert_problem(response, 409, "payment_in_progress")
    assert body["payment"] == str(first.id)
    assert state() == before
    assert Payment.objects.get().status == PaymentStatus.PENDING


def test_a_pending_payment_keeps_its_hold_past_the_original_deadline(user_api, reservation):
    start(user_api, reservation)
    original = reservation.expires_at

    # Past the first deadline, the seats are still the buyer's.
    held = Reservation.objects.get(pk=reservation.pk)
    assert held.expires_at > original
    assert not held.is_overdue(original + timedelta(seconds=1))


# --- GET /api/v1/payments/{id} -----------------------------------------------------------------


def test_the_owner_reads_a_pending_payment(user_api, reservation):
    payment = start(user_api, reservation)

    response = user_api.get(f"/api/v1/payments/{payment.id}")

    assert response.status_code == 200, response.content
    body = response.json()
    payment.refresh_from_db()
    contract = {
        "id": str(payment.id),
        "reservation": str(reservation.id),
        "status": "pending",
        "method": "pix",
        "amount": "50.00",
        "sale": None,
    }
    assert {key: body[key] for key in contract} == contract
    assert {"created_at", "updated_at"} <= set(body)
    assert parse_datetime(body["created_at"]) == payment.created_at
    assert parse_datetime(body["updated_at"]) == payment.updated_at
    assert body["next_action"] == payment.next_action


def test_the_owner_reads_a_paid_payment_with_its_sale(user_api, reservation):
    paid = pay(user_api, reservation.id, "tok_visa")
    assert paid.status_code == 201, paid.content
    payment = Payment.objects.get()

    body = user_api.get(f"/api/v1/payments/{payment.id}").json()

    assert body["status"] == "succeeded"
    assert body["sale"]["id"] == paid.json()["id"]
    assert body["sale"]["status"] == "paid"
    assert len(body["sale"]["tickets"]) == 2


@pytest.mark.parametrize(("token", "status"), [("tok_visa", 201), ("tok_declined", 402)])
def test_a_payment_settled_at_once_shows_its_method(user_api, reservation, token, status):
    assert pay(user_api, reservation.id, token).status_code == status
    payment = Payment.objects.get()

    body = user_api.get(f"/api/v1/payments/{payment.id}").json()

    assert body["method"] == "card"


def test_staff_read_any_payment(user_api, staff_api, reservation):
    payment = start(user_api, reservation)

    response = staff_api.get(f"/api/v1/payments/{payment.id}")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(payment.id)


def test_another_user_cannot_see_a_payment(user_api, other_api, reservation):
    payment = start(user_api, reservation)

    assert_problem(other_api.get(f"/api/v1/payments/{payment.id}"), 404, "not_found")


def test_anonymous_cannot_see_a_payment(user_api, api, reservation):
    payment = start(user_api, reservation)

    assert_problem(api.get(f"/api/v1/payments/{payment.id}"), 401, "not_authenticated")


def test_an_unknown_payment_is_404(user_api, staff_api):
    assert_problem(user_api.get(f"/api/v1/payments/{uuid.uuid4()}"), 404, "not_found")
    assert_problem(staff_api.get(f"/api/v1/payments/{uuid.uuid4()}"), 404, "not_found")


@pytest.mark.parametrize("bad", ["123", "not-a-uuid", "0" * 33])
def test_a_malformed_payment_id_is_404(user_api, bad):
    assert user_api.get(f"/api/v1/payments/{bad}").status_code == 404


# --- the sandbox -------------------------------------------------------------------------------


def test_the_owner_pays_in_the_sandbox(user_api, reservation, monkeypatch):
    delivered = capture_sandbox_webhooks(monkeypatch)
    payment = start(user_api, reservation)
    before = state()

    response = sandbox(user_api, payment.id)

    assert response.status_code == 202, response.content
    assert FakeProviderPayment.objects.get(payment_id=payment.id).status == Outcome.SUCCEEDED
    # The provider announces it; the app learns of it only through that webhook.
    [body] = delivered
    event = json.loads(body)
    assert event["type"] == "payment.succeeded"
    assert event["data"]["payment_id"] == str(payment.id)
    assert event["data"]["reference"] == payment.provider_reference
    assert event["data"]["amount"] == "50.00"
    after = state()
    assert after.pop("ledger") != before.pop("ledger")
    assert after == before


def test_the_owner_fails_in_the_sandbox(user_api, reservation, monkeypatch):
    delivered = capture_sandbox_webhooks(monkeypatch)
    payment = start(user_api, reservation, "tok_3ds")

    response = sandbox(user_api, payment.id, "failed")

    assert response.status_code == 202, response.content
    row = FakeProviderPayment.objects.get(payment_id=payment.id)
    assert (row.status, row.failure_reason) == (Outcome.FAILED, "payment_failed")
    assert [json.loads(body)["type"] for body in delivered] == ["payment.failed"]


def test_another_user_cannot_use_the_sandbox(user_api, other_api, reservation, monkeypatch):
    delivered = capture_sandbox_webhooks(monkeypatch)
    payment = start(user_api, reservation)
    before = state()

    assert_problem(sandbox(other_api, payment.id), 404, "not_found")

    assert state() == before
    assert delivered == []


def test_anonymous_cannot_use_the_sandbox(user_api, api, reservation):
    payment = start(user_api, reservation)
    before = state()

    assert_problem(sandbox(api, payment.id), 401, "not_authenticated")

    assert state() == before


@pytest.mark.parametrize("body", [{"outcome": "maybe"}, {}, {"outcome": None}, {"outcome": 1}])
def test_the_sandbox_refuses_an_unknown_outcome(user_api, reservation, body):
    payment = start(user_api, reservation)
    before = state()

    response = user_api.post(f"/api/v1/payments/{payment.id}/sandbox", body, format="json")

    problem = assert_problem(response, 400, "invalid")
    assert set(field_errors(problem)) == {"outcome"}
    assert state() == before


def test_the_sandbox_refuses_a_payment_that_is_not_pending(user_api, reservation, monkeypatch):
    delivered = capture_sandbox_webhooks(monkeypatch)
    payment = start(user_api, reservation)
    assert sandbox(user_api, payment.id).status_code == 202
    before = state()

    for outcome in ("succeeded", "failed"):
        assert_problem(sandbox(user_api, payment.id, outcome), 409, "payment_not_pending")

    assert state() == before
    assert len(delivered) == 1


def test_the_sandbox_refuses_a_payment_approved_at_once(user_api, reservation, monkeypatch):
    delivered = capture_sandbox_webhooks(monkeypatch)
    assert pay(user_api, reservation.id, "tok_visa").status_code == 201
    payment = Payment.objects.get()
    before = state()

    assert_problem(sandbox(user_api, payment.id), 409, "payment_not_pending")

    assert state() == before
    assert delivered == []


def test_the_sandbox_is_404_for_an_unknown_payment(user_api):
    assert_problem(sandbox(user_api, uuid.uuid4()), 404, "not_found")


def test_the_sandbox_is_404_unless_the_fake_provider_is_in_use(
    user_api, reservation, settings, monkeypatch
):
    delivered = capture_sandbox_webhooks(monkeypatch)
    payment = start(user_api, reservation)
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_WEBHOOK_SECRET = ""
    before = state()

    assert_problem(sandbox(user_api, payment.id), 404, "not_found")
    assert_problem(user_api.get(f"/api/v1/payments/{payment.id}/sandbox/pix.svg"), 404, "not_found")

    assert state() == before
    assert delivered == []


def test_the_sandbox_draws_the_pix_qr_code(user_api, api, reservation):
    payment = start(user_api, reservation)

    response = api.get(f"/api/v1/payments/{payment.id}/sandbox/pix.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    assert response.content.rstrip().endswith(b"</svg>")


def test_the_pix_qr_code_of_an_unknown_payment_is_404(api):
    assert_problem(api.get(f"/api/v1/payments/{uuid.uuid4()}/sandbox/pix.svg"), 404, "not_found")


# --- input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"token": None},
        {"token": ""},
        {"token": ["tok_visa"]},
        {"token": {"id": "tok_visa"}},
        {"token": True},
        {"tok": "tok_visa"},
    ],
    ids=["no_token", "null", "empty", "list", "object", "bool", "misspelt"],
)
def test_a_payment_without_a_string_token_is_400_and_writes_nothing(user_api, reservation, body):
    before = state()
    before_counts = counts()

    response = user_api.post(pay_url(reservation.id), body, format="json")

    problem = assert_problem(response, 400, "invalid")
    assert set(field_errors(problem)) == {"token"}
    assert state() == before
    assert counts() == before_counts
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.PENDING


@pytest.mark.parametrize("token", [4242, 42.5])
def test_a_number_is_not_a_token(user_api, reservation, token):
    before = state()

    response = user_api.post(pay_url(reservation.id), {"token": token}, format="json")

    problem = assert_problem(response, 400, "invalid")
    assert set(field_errors(problem)) == {"token"}
    assert state() == before
