"""Shared helpers of the payment lifecycle, webhook and refund tests (the seat ids, seat map,
outbox and hold helpers every area uses live in tests/helpers.py and tests/factories.py)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from django.conf import settings

from apps.bookings.models import Reservation
from apps.events.models import OutboxEvent
from apps.payments.models import FakeProviderPayment, Payment, Sale, Ticket, WebhookEvent
from apps.payments.providers.fake import SIGNATURE_HEADER, sign

WEBHOOK_URL = "/api/v1/payments/webhooks/fake"
SIGNATURE_META = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")


def pay_url(reservation_id) -> str:
    return f"/api/v1/reservations/{reservation_id}/payment"


def pay(client, reservation_id, token: Any = "tok_visa", **extra):  # noqa: S107 - a test token
    return client.post(pay_url(reservation_id), {"token": token}, format="json", **extra)


def event_body(
    payment_id,
    event_type: str = "payment.succeeded",
    *,
    event_id: str | None = None,
    amount: str = "50.00",
    **data: Any,
) -> bytes:
    """A sandbox webhook body as the contract spells it."""
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "type": event_type,
            "created": int(time.time()),
            "data": {"payment_id": str(payment_id), "amount": amount, "currency": "BRL", **data},
        }
    ).encode()


def signature(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    return sign(
        body,
        secret=settings.PAYMENT_WEBHOOK_SECRET if secret is None else secret,
        timestamp=int(time.time()) if timestamp is None else timestamp,
    )


def post_webhook(client, body: bytes, *, header: str | None = "sign", provider: str = "fake"):
    """POST a raw body; `header` is the Cinema-Signature value ("sign": a valid one, None: no
    header at all)."""
    extra = {}
    if header is not None:
        extra[SIGNATURE_META] = signature(body) if header == "sign" else header
    return client.post(
        f"/api/v1/payments/webhooks/{provider}", data=body, content_type="application/json", **extra
    )


def receive(client, body: bytes) -> WebhookEvent:
    """Deliver a signed event and return its stored row."""
    response = post_webhook(client, body)
    assert response.status_code == 200, response.content
    return WebhookEvent.objects.get(provider="fake", event_id=json.loads(body)["id"])


def counts() -> dict[str, int]:
    """Row counts of everything a payment, webhook or refund writes."""
    return {
        "payments": Payment.objects.count(),
        "sales": Sale.objects.count(),
        "tickets": Ticket.objects.count(),
        "webhooks": WebhookEvent.objects.count(),
        "outbox": OutboxEvent.objects.count(),
        "ledger": FakeProviderPayment.objects.count(),
    }


def state() -> dict[str, Any]:
    """Every row a rejected call must leave untouched, by value (a payment's `updated_at` aside:
    see test_webhooks_api's test of an ignored report)."""
    return {
        "payments": sorted(
            Payment.objects.values_list(
                "id",
                "status",
                "failure_reason",
                "refund_reason",
                "refund_requested_at",
                "refund_attempts",
                "refunded_at",
                "needs_attention",
            )
        ),
        "sales": sorted(Sale.objects.values_list("id", "status", "refunded_at")),
        "tickets": sorted(Ticket.objects.values_list("id", "voided_at")),
        "reservations": sorted(
            Reservation.objects.values_list("id", "status", "expires_at", "extended_at")
        ),
        "webhooks": sorted(WebhookEvent.objects.values_list("id", "processed_at", "outcome")),
        "outbox": OutboxEvent.objects.count(),
        "ledger": sorted(FakeProviderPayment.objects.values_list("reference", "status")),
    }


def capture_sandbox_webhooks(monkeypatch) -> list[bytes]:
    """What the sandbox provider would deliver over HTTP, kept here instead: the test posts it."""
    from apps.payments.providers import fake

    bodies: list[bytes] = []
    monkeypatch.setattr(
        fake.deliver_sandbox_webhook, "delay", lambda body: bodies.append(body.encode())
    )
    return bodies
