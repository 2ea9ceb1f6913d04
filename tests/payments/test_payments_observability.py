"""Payments are counted at /metrics and every decision is logged with its ids."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.conf import settings

from apps.payments import refunds, webhooks
from apps.payments.models import FakeProviderPayment, Sale, WebhookEvent
from apps.payments.providers.fake import SIGNATURE_HEADER, sign
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.metrics import growth, scrape

pytestmark = pytest.mark.django_db(transaction=True)


def _logged(caplog, event: str) -> list[dict]:
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] == event]


def _deliver(api, payment_id: str, event_type: str) -> str:
    event_id = f"evt_{uuid.uuid4().hex}"
    body = json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "created": int(time.time()),
            "data": {"payment_id": payment_id, "amount": "50.00", "currency": "BRL"},
        }
    ).encode()
    header = sign(body, secret=settings.PAYMENT_WEBHOOK_SECRET, timestamp=int(time.time()))
    response = api.post(
        "/api/v1/payments/webhooks/fake",
        body,
        content_type="application/json",
        **{f"HTTP_{SIGNATURE_HEADER.upper().replace('-', '_')}": header},
    )
    assert response.status_code == 200, response.content
    return event_id


def test_a_pix_payment_its_webhook_and_its_refund_are_counted_and_logged(api, session, caplog):
    caplog.set_level("INFO")
    buyer = client_for(UserFactory())
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:2])
    before = scrape(api)

    hold = buyer.post("/api/v1/reservations", {"session": session.id, "seats": seats}).json()
    pending = buyer.post(f"/api/v1/reservations/{hold['id']}/payment", {"token": "tok_pix"})
    assert pending.status_code == 202, pending.content
    payment_id = pending.json()["id"]
    FakeProviderPayment.objects.filter(payment_id=payment_id).update(status="succeeded")
    event_id = _deliver(api, payment_id, "payment.succeeded")
    second_id = _deliver(api, payment_id, "payment.succeeded")  # another id, the same news
    for event in WebhookEvent.objects.order_by("pk"):
        webhooks.webhook_event_process(event_pk=event.pk)
    sale = Sale.objects.get()
    refunded = buyer.post(f"/api/v1/sales/{sale.id}/refund")
    assert refunded.status_code == 200, refunded.content
    assert refunds.payment_refund_at_provider(payment_id=uuid.UUID(payment_id))
    bad = api.post("/api/v1/payments/webhooks/fake", b"{}", content_type="application/json")
    assert bad.status_code == 400

    grew = growth(before, scrape(api))
    for status in ("processing", "pending", "succeeded", "refunded"):
        assert grew("cinema_payments_total", status=status, provider="fake") == 1, status
    assert grew("cinema_payment_webhooks_total", provider="fake", result="stored") == 2
    assert grew("cinema_payment_webhooks_total", provider="fake", result="invalid_signature") == 1
    assert grew("cinema_payment_webhook_latency_seconds_count", provider="fake") == 2
    assert grew("cinema_refunds_total", reason="requested", result="done") == 1
    assert grew("cinema_sales_total") == 1

    ids = {"payment_id": payment_id, "reservation_id": hold["id"]}
    [pending_log] = _logged(caplog, "payment_pending")
    assert {k: pending_log[k] for k in ids} == ids
    assert pending_log["method"] == "pix"
    stored = _logged(caplog, "webhook_stored")
    assert [entry["event_id"] for entry in stored] == [event_id, second_id]
    assert all(entry["payment_id"] == payment_id for entry in stored)
    processed = _logged(caplog, "webhook_processed")
    assert [(entry["event_id"], entry["outcome"]) for entry in processed] == [
        (event_id, "applied"),
        (second_id, "applied"),
    ]
    [confirmed] = _logged(caplog, "payment_confirmed")
    assert confirmed["sale_id"] == str(sale.id)
    assert confirmed["source"] == "webhook"
    [ignored] = _logged(caplog, "payment_report_ignored")
    assert ignored["payment_id"] == payment_id
    [sale_refunded] = _logged(caplog, "sale_refunded")
    assert (sale_refunded["sale_id"], sale_refunded["payment_id"]) == (str(sale.id), payment_id)
    [payment_refunded] = _logged(caplog, "payment_refunded")
    assert payment_refunded["reason"] == "requested"
    [refused] = _logged(caplog, "webhook_refused")
    assert refused["provider"] == "fake"
