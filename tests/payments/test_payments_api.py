"""POST /api/v1/reservations/{id}/payment: the hold becomes a sale with one ticket per seat."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from apps.bookings import services as booking_services
from apps.bookings.models import Reservation, ReservationSeat
from apps.events.models import OutboxEvent
from apps.payments import selectors as payment_selectors
from apps.payments import services as payment_services
from apps.payments.errors import PaymentProviderUnavailable
from apps.payments.models import FakeProviderPayment, Payment, Sale, Ticket
from apps.payments.providers.base import ProviderUnavailable
from apps.payments.providers.fake import FakeProvider
from apps.payments.refunds import payment_refund_at_provider
from apps.payments.serializers import SaleSerializer
from apps.sessions.models import Session
from tests.assertions import assert_problem, field_errors
from tests.conftest import client_for
from tests.factories import UserFactory, hold, make_overdue, make_room, make_session
from tests.helpers import seat_ids, seat_map

pytestmark = pytest.mark.django_db

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]{20,}$")


def url(reservation_id) -> str:
    return f"/api/v1/reservations/{reservation_id}/payment"


def pay(client, reservation_id, body: dict[str, Any] | None = None, key: str | None = None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    body = {"token": "tok_visa"} if body is None else body
    return client.post(url(reservation_id), body, format="json", **headers)


def snapshot(session: Session) -> dict[str, Any]:
    """Everything a rejected payment must leave untouched."""
    return {
        "sales": sorted(Sale.objects.values_list("id", "reservation_id", "total")),
        "tickets": sorted(Ticket.objects.values_list("id", "session_seat_id", "code")),
        "payments": sorted(Payment.objects.values_list("id", "status")),
        "reservations": sorted(
            Reservation.objects.values_list("id", "status", "expires_at", "closed_at")
        ),
        "reserved_seats": sorted(
            ReservationSeat.objects.values_list("reservation_id", "session_seat_id", "is_active")
        ),
        "seat_map": seat_map(session),
    }


def spy_on_creates(monkeypatch, *, before=None, after=None) -> None:
    """Wrap the fake provider's `create_payment`: `before(kwargs)` runs ahead of the provider
    (and may raise in its place), `after(kwargs, result)` once it answered."""
    original = FakeProvider.create_payment

    def create(self, **kwargs):
        if before is not None:
            before(kwargs)
        result = original(self, **kwargs)
        if after is not None:
            after(kwargs, result)
        return result

    monkeypatch.setattr(FakeProvider, "create_payment", create)


def record_provider_keys(monkeypatch) -> list[str]:
    """The idempotency key of every `create_payment` call the fake provider gets."""
    keys: list[str] = []
    spy_on_creates(monkeypatch, before=lambda kwargs: keys.append(kwargs["idempotency_key"]))
    return keys


def expire_while_charging(monkeypatch, reservation: Reservation) -> list[uuid.UUID]:
    """The provider approves the charge, and the hold's deadline passes before the answer is
    applied (between the pre-check and the lock). Returns the payment ids charged."""
    charged: list[uuid.UUID] = []

    def then_expire(kwargs, result) -> None:
        assert result.status == "succeeded"
        charged.append(kwargs["payment_id"])
        make_overdue(reservation)

    spy_on_creates(monkeypatch, after=then_expire)
    return charged


def record_refunds(monkeypatch) -> list[tuple[str, Decimal, str]]:
    """(reference, amount, idempotency key) of every refund the fake provider is asked for."""
    refunds: list[tuple[str, Decimal, str]] = []
    original = FakeProvider.refund_payment

    def recording_refund(self, *, reference, amount, idempotency_key):
        refunds.append((reference, amount, idempotency_key))
        return original(self, reference=reference, amount=amount, idempotency_key=idempotency_key)

    monkeypatch.setattr(FakeProvider, "refund_payment", recording_refund)
    return refunds


def record_queued_tasks(monkeypatch) -> list[tuple[str, tuple]]:
    """The payments tasks queued for after the commit (no worker runs them here)."""
    queued: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        payment_services, "queue_task", lambda name, *args: queued.append((name, args))
    )
    return queued


@pytest.fixture
def reservation(user, session) -> Reservation:
    return hold(user, session, 3)


# --- success ---------------------------------------------------------------------------------


def test_payment_sells_the_seats_and_issues_one_ticket_per_seat(
    user_api, user, session, reservation, api
):
    seats = seat_ids(session, 3)
    before = timezone.now()

    response = pay(user_api, reservation.id)

    after = timezone.now()
    assert response.status_code == 201, response.content
    body = response.json()
    sale = Sale.objects.get()
    tickets = list(Ticket.objects.order_by("session_seat_id"))
    assert body == {
        "id": str(sale.id),
        "reservation": str(reservation.id),
        "status": "paid",
        "tickets": [
            {
                "id": str(ticket.id),
                "seat": {"id": ticket.session_seat_id, "label": label},
                "code": ticket.code,
                "type": "full",
                "price": "25.00",
            }
            for ticket, label in zip(tickets, ["A1", "A2", "A3"], strict=True)
        ],
        "total": "75.00",
        "paid_at": body["paid_at"],
        "refunded_at": None,
    }
    assert [t.session_seat_id for t in tickets] == seats
    codes = [t["code"] for t in body["tickets"]]
    assert len(set(codes)) == 3
    assert all(URL_SAFE.match(code) for code in codes), codes
    paid_at = datetime.fromisoformat(body["paid_at"])
    assert before <= paid_at <= after
    assert sale.paid_at == paid_at
    assert sale.user == user
    assert sale.session == session
    assert sale.total == session.price * 3 == Decimal("75.00")
    payment = Payment.objects.get()
    assert sale.payment == payment
    assert (payment.status, payment.amount, payment.provider) == (
        "succeeded",
        Decimal("75.00"),
        "fake",
    )
    assert payment.provider_reference.startswith("fpi_")
    assert (payment.refund_reason, payment.refund_requested_at) == ("", None)

    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CONFIRMED
    seat_response = api.get(f"/api/v1/sessions/{session.id}/seats")
    assert seat_response.status_code == 200
    statuses = {entry["id"]: entry["status"] for entry in seat_response.json()}
    assert [statuses[s] for s in seats] == ["sold"] * 3
    assert sorted(s for s, status in statuses.items() if status != "available") == seats
    detail = user_api.get(f"/api/v1/reservations/{reservation.id}")
    assert detail.status_code == 200
    assert detail.json()["status"] == "confirmed"


def test_the_payment_answer_is_the_sale_as_read_back_later(user_api, user):
    """The 201 is rendered from memory (no read-back): it must equal the stored sale, tickets in
    seat order whatever order the seats were held in."""
    session = make_session(room=make_room(rows=3, seats_per_row=6))
    by_label = {ss.seat.label: ss.id for ss in session.seats.select_related("seat")}
    held = booking_services.reservation_create(
        user=user, session_id=session.id, seat_ids=[by_label[x] for x in ("C2", "A5", "B1", "A3")]
    )

    response = pay(user_api, held.id)

    assert response.status_code == 201, response.content
    stored = SaleSerializer(payment_selectors.sale_detail(response.json()["id"])).data
    assert response.json() == json.loads(JSONRenderer().render(stored))
    assert [t["seat"]["label"] for t in response.json()["tickets"]] == ["A3", "A5", "B1", "C2"]


def test_amount_is_computed_by_the_server_and_client_totals_are_ignored(
    user_api, reservation, monkeypatch
):
    charged: list[tuple[Decimal, str]] = []
    spy_on_creates(
        monkeypatch, before=lambda kwargs: charged.append((kwargs["amount"], kwargs["currency"]))
    )

    response = pay(
        user_api, reservation.id, {"token": "tok_visa", "amount": "0.01", "total": "0.01"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["total"] == "75.00"
    assert charged == [(Decimal("75.00"), "BRL")]
    assert Sale.objects.get().total == Decimal("75.00")
    assert Payment.objects.get().amount == Decimal("75.00")
    assert sorted(Ticket.objects.values_list("price", flat=True)) == [Decimal("25.00")] * 3


# --- declined --------------------------------------------------------------------------------


def test_declined_card_is_402_and_keeps_the_hold_then_an_approved_card_pays(
    user_api, session, reservation
):
    expires_at = Reservation.objects.get(pk=reservation.pk).expires_at
    before = snapshot(session)

    response = pay(user_api, reservation.id, {"token": "tok_declined"})

    assert_problem(response, 402, "payment_declined")
    after = snapshot(session)
    declined = Payment.objects.get()
    assert (declined.status, declined.failure_reason, declined.amount) == (
        "failed",
        "card_declined",
        Decimal("75.00"),
    )
    # Only the declined attempt was recorded; the hold is exactly as it was.
    assert after == {**before, "payments": [(declined.id, "failed")]}
    current = Reservation.objects.get(pk=reservation.pk)
    assert current.status == Reservation.Status.PENDING
    assert current.expires_at == expires_at
    assert [after["seat_map"][s] for s in seat_ids(session, 3)] == ["held"] * 3
    assert Sale.objects.count() == 0
    assert Ticket.objects.count() == 0

    retry = pay(user_api, reservation.id, {"token": "tok_visa"})

    assert retry.status_code == 201, retry.content
    assert len(retry.json()["tickets"]) == 3
    assert Sale.objects.count() == 1
    assert Ticket.objects.count() == 3
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["failed", "succeeded"]
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.CONFIRMED


# --- refusals --------------------------------------------------------------------------------


def test_paying_after_the_deadline_is_410_even_before_any_sweeper(user_api, session, reservation):
    make_overdue(reservation)
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.PENDING
    before = snapshot(session)

    response = pay(user_api, reservation.id)

    assert_problem(response, 410, "reservation_expired")
    assert snapshot(session) == before
    assert Payment.objects.count() == 0  # refused before charging
    assert Sale.objects.count() == Ticket.objects.count() == 0


def test_hold_expiring_while_charging_is_410_and_the_charge_is_refunded(
    user_api, session, reservation, monkeypatch
):
    charges = expire_while_charging(monkeypatch, reservation)
    refunds = record_refunds(monkeypatch)
    queued = record_queued_tasks(monkeypatch)

    response = pay(user_api, reservation.id)

    assert_problem(response, 410, "reservation_expired")
    payment = Payment.objects.get()
    assert charges == [payment.id]
    # The money was taken after the hold ended: the payment stays succeeded with a refund
    # requested, and the provider refund is queued for after the commit.
    assert (payment.status, payment.amount, payment.refund_reason) == (
        "succeeded",
        Decimal("75.00"),
        "late",
    )
    assert payment.refund_requested_at is not None
    assert payment.refunded_at is None
    assert payment.provider_reference.startswith("fpi_")
    assert queued == [("apps.payments.tasks.refund_payment", (str(payment.id),))]
    assert refunds == []
    assert not OutboxEvent.objects.filter(type="payment.refunded").exists()
    assert Sale.objects.count() == 0
    assert Ticket.objects.count() == 0
    current = Reservation.objects.get(pk=reservation.pk)
    assert current.status == Reservation.Status.PENDING  # overdue; the sweeper will expire it
    assert current.closed_at is None
    assert [seat_map(session)[s] for s in seat_ids(session, 3)] == ["available"] * 3

    # What the queued task does once the request has committed.
    assert payment_refund_at_provider(payment_id=payment.id) is True

    assert refunds == [(payment.provider_reference, Decimal("75.00"), f"refund-{payment.id}")]
    payment.refresh_from_db()
    assert (payment.status, payment.refund_reason) == ("refunded", "late")
    assert payment.refunded_at is not None
    [event] = OutboxEvent.objects.filter(type="payment.refunded")
    assert event.data == {
        "payment_id": str(payment.id),
        "reservation_id": str(reservation.id),
        "session_id": reservation.session_id,
        "seat_ids": [],
        "sale_id": None,
        "amount": "75.00",
        "reason": "late",
    }
    assert Sale.objects.count() == Ticket.objects.count() == 0
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.PENDING


def test_refund_is_recorded_and_replayed_under_an_idempotency_key(
    user_api, session, reservation, monkeypatch
):
    charges = expire_while_charging(monkeypatch, reservation)

    first = pay(user_api, reservation.id, key="late-1")

    assert_problem(first, 410, "reservation_expired")
    assert list(Payment.objects.values_list("status", "refund_reason")) == [("succeeded", "late")]
    requested_at = Payment.objects.get().refund_requested_at
    assert requested_at is not None
    before = snapshot(session)

    replay = pay(user_api, reservation.id, key="late-1")

    assert_problem(replay, 410, "reservation_expired")
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert snapshot(session) == before
    assert len(charges) == 1  # the replay never reached the provider
    assert FakeProviderPayment.objects.count() == 1
    assert Payment.objects.get().refund_requested_at == requested_at
    assert Sale.objects.count() == 0


def test_paying_twice_is_409_already_confirmed(user_api, session, reservation):
    assert pay(user_api, reservation.id).status_code == 201
    before = snapshot(session)

    response = pay(user_api, reservation.id)

    assert_problem(response, 409, "already_confirmed")
    assert snapshot(session) == before
    assert Sale.objects.count() == 1
    assert Ticket.objects.count() == 3


def test_cancelled_reservation_is_409_not_pending(user_api, user, session, reservation):
    booking_services.reservation_cancel(reservation_id=reservation.id, user=user)
    before = snapshot(session)

    response = pay(user_api, reservation.id)

    assert_problem(response, 409, "reservation_not_pending")
    assert snapshot(session) == before
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.CANCELLED
    assert Sale.objects.count() == Ticket.objects.count() == Payment.objects.count() == 0


def test_another_users_reservation_is_404(session, reservation):
    stranger = client_for(UserFactory())
    before = snapshot(session)

    response = pay(stranger, reservation.id)

    assert_problem(response, 404, "not_found")
    assert snapshot(session) == before
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.PENDING


def test_unknown_reservation_is_404(user_api, session, reservation):
    before = snapshot(session)

    response = pay(user_api, uuid.uuid4())

    assert_problem(response, 404, "not_found")
    assert snapshot(session) == before


def test_anonymous_is_401(api, session, reservation):
    before = snapshot(session)

    response = pay(api, reservation.id)

    assert_problem(response, 401, "not_authenticated")
    assert snapshot(session) == before


def test_missing_token_is_400(user_api, session, reservation):
    before = snapshot(session)

    response = pay(user_api, reservation.id, {})

    body = assert_problem(response, 400, "invalid")
    assert field_errors(body) == {"token": "required"}
    assert snapshot(session) == before


# --- idempotency -----------------------------------------------------------------------------


def test_same_key_and_body_replays_the_first_sale(user_api, session, reservation):
    first = pay(user_api, reservation.id, key="pay-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    before = snapshot(session)

    replay = pay(user_api, reservation.id, key="pay-1")

    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["Content-Type"] == first["Content-Type"]
    assert replay.content == first.content
    assert snapshot(session) == before
    assert Sale.objects.count() == 1
    assert Ticket.objects.count() == 3
    assert Payment.objects.count() == 1


def test_same_key_with_another_token_is_422(user_api, session, reservation):
    assert pay(user_api, reservation.id, key="pay-1").status_code == 201
    before = snapshot(session)

    response = pay(user_api, reservation.id, {"token": "tok_other"}, key="pay-1")

    assert_problem(response, 422, "idempotency_key_reused")
    assert snapshot(session) == before
    assert Sale.objects.count() == 1


def test_the_providers_idempotency_key_is_scoped_to_the_reservation(session, monkeypatch):
    """Two buyers who happen to send the same Idempotency-Key must not share one charge at the
    provider (which deduplicates by its key across the whole merchant account)."""
    keys = record_provider_keys(monkeypatch)
    first_buyer, second_buyer = UserFactory(), UserFactory()
    first = booking_services.reservation_create(
        user=first_buyer, session_id=session.id, seat_ids=seat_ids(session, 1)
    )
    second = booking_services.reservation_create(
        user=second_buyer, session_id=session.id, seat_ids=seat_ids(session, 2)[1:]
    )

    assert pay(client_for(first_buyer), first.id, key="1").status_code == 201
    assert pay(client_for(second_buyer), second.id, key="1").status_code == 201

    assert len(keys) == 2
    assert keys[0] != keys[1]
    assert Sale.objects.count() == 2
    assert FakeProviderPayment.objects.count() == 2


def test_the_providers_idempotency_key_is_stable_for_one_reservation_and_key(
    user, session, reservation, monkeypatch
):
    """A retry of the same request after a 5xx must reach the provider with the same key, so
    that the provider can deduplicate the charge."""
    keys: list[str] = []

    def unavailable_once(kwargs) -> None:
        keys.append(kwargs["idempotency_key"])
        if len(keys) == 1:
            raise ProviderUnavailable("connection reset")

    spy_on_creates(monkeypatch, before=unavailable_once)

    with pytest.raises(PaymentProviderUnavailable):
        payment_services.payment_start(
            reservation_id=reservation.id, user=user, token="tok_declined", idempotency_key="k"
        )
    left = Payment.objects.get()
    assert (left.status, left.idempotency_key) == ("processing", keys[0])
    assert FakeProviderPayment.objects.count() == 0

    retried = payment_services.payment_start(
        reservation_id=reservation.id, user=user, token="tok_declined", idempotency_key="k"
    )

    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert keys[0] != "k"
    assert (retried.id, retried.status, retried.failure_reason) == (
        left.id,
        "failed",
        "card_declined",
    )
    assert Payment.objects.count() == 1
    assert list(FakeProviderPayment.objects.values_list("idempotency_key", flat=True)) == [keys[0]]


def test_a_retry_with_the_same_key_after_a_decline_returns_it_without_charging_again(
    user, session, reservation, monkeypatch
):
    keys = record_provider_keys(monkeypatch)
    first = payment_services.payment_start(
        reservation_id=reservation.id, user=user, token="tok_declined", idempotency_key="k"
    )
    assert (first.status, first.failure_reason) == ("failed", "card_declined")
    before = snapshot(session)

    again = payment_services.payment_start(
        reservation_id=reservation.id, user=user, token="tok_declined", idempotency_key="k"
    )

    assert (again.id, again.status, again.failure_reason) == (first.id, "failed", "card_declined")
    assert len(keys) == 1
    assert snapshot(session) == before
    assert FakeProviderPayment.objects.count() == 1


def test_without_a_key_each_charge_gets_a_fresh_provider_key(user_api, session, monkeypatch):
    keys = record_provider_keys(monkeypatch)
    reservation = hold(user_api.user, session, 1)

    assert_problem(
        pay(user_api, reservation.id, {"token": "tok_declined"}), 402, "payment_declined"
    )
    assert pay(user_api, reservation.id).status_code == 201

    assert len(keys) == 2
    assert keys[0] != keys[1]
    assert all(keys)
    assert sorted(Payment.objects.values_list("idempotency_key", flat=True)) == sorted(keys)


def test_session_price_sets_the_total(user_api, user):
    session = make_session(price=Decimal("31.50"))
    reservation = hold(user, session, 2)

    response = pay(user_api, reservation.id)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total"] == "63.00"
    assert [t["price"] for t in body["tickets"]] == ["31.50", "31.50"]
