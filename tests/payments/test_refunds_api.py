"""Refunds: POST /api/v1/sales/{id}/refund, the provider refund with retries, and cancelling a
session (POST /api/v1/sessions/{id}/cancel) with the refund of all its sales.

Real commits (`transaction=True`): a refund frees its seats in Redis and the seat-map cache after
the commit, and another buyer must be able to take them at once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from apps.bookings.models import Reservation
from apps.payments import refunds
from apps.payments.lifecycle import PaymentStatus
from apps.payments.models import FakeProviderPayment, Payment, Sale, Ticket
from apps.payments.providers.base import ProviderError, ProviderUnavailable
from apps.payments.providers.fake import FakeProvider
from apps.payments.refunds import RefundNotDone, payment_refund_at_provider
from apps.sessions.models import Session
from tests.assertions import assert_problem
from tests.conftest import client_for
from tests.factories import UserFactory, hold, make_sale, make_session
from tests.helpers import outbox, seat_map
from tests.payments.helpers import (
    capture_sandbox_webhooks,
    pay,
    state,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sandbox_quiet(monkeypatch):
    """The sandbox's refund.succeeded webhooks are kept here, not sent to the broker."""
    return capture_sandbox_webhooks(monkeypatch)


@pytest.fixture
def sale(user, session) -> Sale:
    return make_sale(user=user, session=session, seats=2)


@pytest.fixture
def other_api(db):
    return client_for(UserFactory())


def refund(client, sale_id):
    return client.post(f"/api/v1/sales/{sale_id}/refund")


def starts_in(session: Session, delta: timedelta) -> None:
    Session.objects.filter(pk=session.pk).update(starts_at=timezone.now() + delta)


def seat_map_api(client, session: Session) -> dict[int, str]:
    response = client.get(f"/api/v1/sessions/{session.id}/seats")
    assert response.status_code == 200, response.content
    return {entry["id"]: entry["status"] for entry in response.json()}


def sold_seats(sale: Sale) -> list[int]:
    return sorted(sale.tickets.values_list("session_seat_id", flat=True))


# --- POST /api/v1/sales/{id}/refund ---------------------------------------------------------


def test_the_owner_refunds_well_before_the_session(user_api, api, sale, session):
    seats = sold_seats(sale)
    assert {seat_map_api(api, session)[seat] for seat in seats} == {"sold"}
    refunded_before = outbox("payment.refunded")

    response = refund(user_api, sale.id)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(sale.id)
    assert body["status"] == "refunded"
    assert body["refunded_at"] is not None
    assert [t["seat"]["id"] for t in body["tickets"]] == seats
    sale.refresh_from_db()
    assert sale.status == Sale.Status.REFUNDED
    assert sale.refunded_at is not None
    tickets = list(Ticket.objects.filter(sale=sale))
    assert len(tickets) == 2
    assert all(t.voided_at == sale.refunded_at for t in tickets)
    assert Reservation.objects.get(pk=sale.reservation_id).status == Reservation.Status.REFUNDED
    # The seats are on sale again at once, in the API's seat map too.
    assert {seat_map_api(api, session)[seat] for seat in seats} == {"available"}
    assert set(seat_map(session).values()) == {"available"}
    released = [
        e for e in outbox("seat.released") if e["reservation_id"] == str(sale.reservation_id)
    ]
    assert sorted(e["seat_id"] for e in released) == seats
    assert {(e["reason"], e["session_id"]) for e in released} == {("refunded", session.id)}
    # The money goes back after the commit (a task): requested, not yet done.
    payment = Payment.objects.get(pk=sale.payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.refund_reason == Payment.RefundReason.REQUESTED
    assert payment.refund_requested_at is not None
    assert outbox("payment.refunded") == refunded_before

    assert payment_refund_at_provider(payment_id=payment.id) is True

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_at is not None
    assert FakeProviderPayment.objects.get(payment_id=payment.id).status == "refunded"
    assert outbox("payment.refunded") == [
        {
            "payment_id": str(payment.id),
            "reservation_id": str(sale.reservation_id),
            "session_id": sale.session_id,
            "seat_ids": sorted(sale.tickets.values_list("session_seat_id", flat=True)),
            "sale_id": str(sale.id),
            "amount": "50.00",
            "reason": "requested",
        }
    ]
    # Asked again (a redelivered task), nothing more happens.
    before = state()
    assert payment_refund_at_provider(payment_id=payment.id) is True
    assert state() == before


def test_another_buyer_takes_the_refunded_seats_at_once(user_api, sale, session):
    seats = sold_seats(sale)
    old_tickets = set(Ticket.objects.filter(sale=sale).values_list("id", flat=True))
    assert refund(user_api, sale.id).status_code == 200
    buyer = client_for(UserFactory())

    reserved = buyer.post(
        "/api/v1/reservations", {"session": session.id, "seats": seats}, format="json"
    )
    assert reserved.status_code == 201, reserved.content
    paid = pay(buyer, reserved.json()["id"], "tok_visa")

    assert paid.status_code == 201, paid.content
    new_sale = Sale.objects.get(pk=paid.json()["id"])
    assert new_sale.user_id == buyer.user.id
    assert sold_seats(new_sale) == seats
    valid = Ticket.objects.filter(session_seat_id__in=seats, voided_at__isnull=True)
    assert sorted(valid.values_list("session_seat_id", flat=True)) == seats
    assert {t.sale_id for t in valid} == {new_sale.id}
    assert set(Ticket.objects.filter(voided_at__isnull=False).values_list("id", flat=True)) == (
        old_tickets
    )
    assert {seat_map(session)[seat] for seat in seats} == {"sold"}


def test_refunding_twice_is_409(user_api, sale):
    assert refund(user_api, sale.id).status_code == 200
    before = state()

    assert_problem(refund(user_api, sale.id), 409, "already_refunded")

    assert state() == before


def test_refunding_twice_is_409_for_staff_too(user_api, staff_api, sale):
    assert refund(user_api, sale.id).status_code == 200
    before = state()

    assert_problem(refund(staff_api, sale.id), 409, "already_refunded")

    assert state() == before


def test_the_owner_may_refund_just_before_the_deadline(user_api, sale, session):
    starts_in(session, timedelta(minutes=django_settings.REFUND_DEADLINE_MINUTES + 2))

    response = refund(user_api, sale.id)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "refunded"


def test_the_owner_cannot_refund_within_the_deadline_but_staff_can(
    user_api, staff_api, sale, session
):
    starts_in(session, timedelta(minutes=django_settings.REFUND_DEADLINE_MINUTES - 1))
    before = state()

    assert_problem(refund(user_api, sale.id), 409, "refund_window_closed")

    assert state() == before
    response = refund(staff_api, sale.id)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "refunded"
    payment = Payment.objects.get(pk=sale.payment_id)
    assert payment.refund_reason == Payment.RefundReason.REQUESTED


@pytest.mark.parametrize("client", ["user_api", "staff_api"])
def test_nobody_refunds_after_the_start(request, sale, session, client):
    starts_in(session, timedelta(minutes=-1))
    before = state()

    assert_problem(refund(request.getfixturevalue(client), sale.id), 409, "refund_window_closed")

    assert state() == before


def test_another_users_sale_is_404(other_api, sale):
    before = state()

    assert_problem(refund(other_api, sale.id), 404, "not_found")

    assert state() == before


def test_anonymous_cannot_refund(api, sale):
    before = state()

    assert_problem(refund(api, sale.id), 401, "not_authenticated")

    assert state() == before


def test_an_unknown_sale_is_404(user_api, staff_api, sale):
    before = state()

    assert_problem(refund(user_api, uuid.uuid4()), 404, "not_found")
    assert_problem(refund(staff_api, uuid.uuid4()), 404, "not_found")
    assert refund(user_api, "not-a-uuid").status_code == 404

    assert state() == before


# --- the provider refund, retried -----------------------------------------------------------


@pytest.mark.parametrize("error", [ProviderUnavailable, ProviderError])
def test_a_refund_the_provider_keeps_refusing_is_flagged_for_staff(
    user_api, sale, monkeypatch, settings, error
):
    calls = []

    def refuse(self, *, reference, amount, idempotency_key):
        calls.append(idempotency_key)
        raise error("the provider is down")

    monkeypatch.setattr(FakeProvider, "refund_payment", refuse)
    assert refund(user_api, sale.id).status_code == 200
    payment_id = sale.payment_id
    tries = settings.PAYMENT_REFUND_MAX_RETRIES + 1

    for attempt in range(1, tries + 1):
        with pytest.raises(RefundNotDone):
            payment_refund_at_provider(payment_id=payment_id)
        payment = Payment.objects.get(pk=payment_id)
        assert payment.refund_attempts == attempt
        assert payment.needs_attention is (attempt == tries)

    assert calls == [f"refund-{payment_id}"] * tries
    payment = Payment.objects.get(pk=payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.needs_attention is True
    assert str(tries) in payment.attention_reason
    assert "the provider is down" in payment.attention_reason
    assert outbox("payment.refunded") == []
    before = state()

    # Automation gave up: later calls (a retry, reconciliation) leave it to staff.
    assert payment_refund_at_provider(payment_id=payment_id) is True

    assert len(calls) == tries
    assert state() == before


def test_a_refund_that_fails_a_few_times_then_succeeds(user_api, sale, monkeypatch):
    real = FakeProvider.refund_payment
    failures = iter([ProviderUnavailable("timeout"), ProviderError("500")])

    def flaky(self, **kwargs):
        error = next(failures, None)
        if error is not None:
            raise error
        return real(self, **kwargs)

    monkeypatch.setattr(FakeProvider, "refund_payment", flaky)
    assert refund(user_api, sale.id).status_code == 200

    for _ in range(2):
        with pytest.raises(RefundNotDone):
            payment_refund_at_provider(payment_id=sale.payment_id)
    assert payment_refund_at_provider(payment_id=sale.payment_id) is True

    payment = Payment.objects.get(pk=sale.payment_id)
    assert (payment.status, payment.refund_attempts, payment.needs_attention) == (
        PaymentStatus.REFUNDED,
        2,
        False,
    )
    assert len(outbox("payment.refunded")) == 1


# --- cancelling a session -------------------------------------------------------------------


@pytest.fixture
def five_sales(session) -> list[Sale]:
    return [make_sale(user=UserFactory(), session=session, seats=n % 2 + 1) for n in range(5)]


def test_staff_cancel_a_session_with_202(staff_api, session, five_sales):
    response = staff_api.post(f"/api/v1/sessions/{session.id}/cancel")

    assert response.status_code == 202, response.content
    assert response.json() == {"session": session.id, "status": "cancelled", "sales_to_refund": 5}
    assert Session.objects.get(pk=session.pk).status == Session.Status.CANCELLED
    assert outbox("session.cancelled") == [{"session_id": session.id}]
    # The refunds are the worker's job: nothing is refunded by the request itself.
    assert Sale.objects.filter(session=session, status=Sale.Status.PAID).count() == 5


def test_a_normal_user_cannot_cancel_a_session(user_api, session, five_sales):
    before = state()

    assert_problem(user_api.post(f"/api/v1/sessions/{session.id}/cancel"), 403, "permission_denied")

    assert state() == before
    assert Session.objects.get(pk=session.pk).status == Session.Status.SCHEDULED


def test_anonymous_cannot_cancel_a_session(api, session):
    assert_problem(api.post(f"/api/v1/sessions/{session.id}/cancel"), 401, "not_authenticated")
    assert Session.objects.get(pk=session.pk).status == Session.Status.SCHEDULED


def test_cancelling_an_unknown_session_is_404(staff_api, session):
    before = state()

    assert_problem(staff_api.post("/api/v1/sessions/999999/cancel"), 404, "not_found")

    assert state() == before
    assert Session.objects.get(pk=session.pk).status == Session.Status.SCHEDULED


def test_a_cancelled_session_refunds_all_its_sales(api, session, five_sales):
    other_session = make_session()
    elsewhere = make_sale(user=UserFactory(), session=other_session, seats=1)
    sold = sorted(seat for sale in five_sales for seat in sold_seats(sale))
    assert len(sold) == 7

    left = refunds.session_cancel(session_id=session.id)

    assert left == 5
    assert Session.objects.get(pk=session.pk).status == Session.Status.CANCELLED
    assert outbox("session.cancelled") == [{"session_id": session.id}]

    assert refunds.refund_session_sales(session_id=session.id, batch_size=2) == 5

    for sale in five_sales:
        sale.refresh_from_db()
        assert sale.status == Sale.Status.REFUNDED
        payment = Payment.objects.get(pk=sale.payment_id)
        assert payment.status == PaymentStatus.REFUNDED
        assert payment.refund_reason == Payment.RefundReason.SESSION_CANCELLED
    assert not Ticket.objects.filter(sale__session=session, voided_at__isnull=True).exists()
    assert {seat_map(session)[seat] for seat in sold} == {"available"}
    refunded = outbox("payment.refunded")
    assert sorted(e["sale_id"] for e in refunded) == sorted(str(s.id) for s in five_sales)
    assert {e["reason"] for e in refunded} == {"session_cancelled"}
    # Another session's sale is untouched.
    elsewhere.refresh_from_db()
    assert elsewhere.status == Sale.Status.PAID
    assert Payment.objects.get(pk=elsewhere.payment_id).status == PaymentStatus.SUCCEEDED
    before = state()

    # Delivered again (or the endpoint called again): nothing more to refund.
    assert refunds.refund_session_sales(session_id=session.id) == 0
    assert refunds.session_cancel(session_id=session.id) == 0
    assert refunds.refund_session_sales(session_id=session.id) == 0

    assert state() == before
    assert len(outbox("session.cancelled")) == 1


def test_a_session_cancelled_while_the_provider_charges_refunds_the_charge(
    user_api, user, session, five_sales, monkeypatch
):
    reservation = hold(user, session, 2, offset=10)
    charge = FakeProvider.create_payment

    def charge_then_cancel(self, **kwargs):
        result = charge(self, **kwargs)
        refunds.session_cancel(session_id=session.id)  # staff cancel it meanwhile
        return result

    monkeypatch.setattr(FakeProvider, "create_payment", charge_then_cancel)
    sales = Sale.objects.count()

    response = pay(user_api, reservation.id, "tok_visa")

    assert_problem(response, 400, "session_not_open")
    assert Sale.objects.count() == sales
    assert not Sale.objects.filter(reservation=reservation).exists()
    assert Reservation.objects.get(pk=reservation.pk).status != Reservation.Status.CONFIRMED
    # The provider took the money before the app saw the session cancelled: it goes back.
    payment = Payment.objects.get(reservation=reservation)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.refund_reason == Payment.RefundReason.LATE
    assert payment.refund_requested_at is not None

    assert payment_refund_at_provider(payment_id=payment.id) is True

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    [late] = [e for e in outbox("payment.refunded") if e["payment_id"] == str(payment.id)]
    assert late == {
        "payment_id": str(payment.id),
        "reservation_id": str(reservation.id),
        "session_id": reservation.session_id,
        "seat_ids": [],
        "sale_id": None,
        "amount": "50.00",
        "reason": "late",
    }


def test_a_hold_of_a_cancelled_session_is_refused_before_any_charge(user_api, user, session):
    reservation = hold(user, session, 2)
    refunds.session_cancel(session_id=session.id)
    before = state()

    response = pay(user_api, reservation.id, "tok_visa")

    assert_problem(response, 400, "session_not_open")
    assert state() == before


def test_a_refund_whose_task_was_never_queued_is_finished_by_the_session_run(
    monkeypatch, session, five_sales
):
    """A worker killed between a sale's refund commit and the publishing of its retry task (or
    a broker that refused the publish) leaves a payment refund asked for and never made; the
    session's refund run, delivered again, finishes it instead of leaving it to reconciliation."""

    def lost(*args, **kwargs):
        raise ConnectionError("the worker died before this publish")

    monkeypatch.setattr("apps.payments.services.current_app.send_task", lost)
    refunds.session_cancel(session_id=session.id)
    straggler = five_sales[0]
    refunds.sale_refund(sale_id=straggler.id, reason=Payment.RefundReason.SESSION_CANCELLED)
    payment = Payment.objects.get(pk=straggler.payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED  # asked for, not made, no task to make it
    assert payment.refund_requested_at is not None

    assert refunds.refund_session_sales(session_id=session.id) == 4

    assert {p.status for p in Payment.objects.filter(sale__session=session)} == {
        PaymentStatus.REFUNDED
    }
