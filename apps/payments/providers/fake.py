"""The sandbox provider: a payment provider that lives beside the app, for local runs and tests.

It keeps its own ledger (`FakeProviderPayment`, never read by the app), deduplicates by idempotency
key, settles PIX and 3-D Secure payments later, and announces outcomes by webhooks signed with
`PAYMENT_WEBHOOK_SECRET`, delivered over HTTP to `PAYMENT_WEBHOOK_URL` by a Celery task with
retries: the app sees exactly what a real provider would show it. Test tokens:

- `tok_declined`: declined (`card_declined`);
- `tok_pix`: a PIX charge, pending until paid (the sandbox endpoint pays or fails it);
- `tok_3ds`: a card that needs 3-D Secure, pending until the challenge is passed or failed;
- any other token: approved at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from decimal import Decimal

import structlog
from celery import shared_task
from django.conf import settings
from django.db import IntegrityError
from django.urls import reverse

from apps.core.db import single_write

from ..models import FakeProviderPayment
from .base import (
    EventType,
    InvalidSignature,
    Outcome,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
)

DECLINED_TOKEN = "tok_declined"  # noqa: S105 - documented test tokens, not secrets
PIX_TOKEN = "tok_pix"  # noqa: S105
THREE_DS_TOKEN = "tok_3ds"  # noqa: S105
SIGNATURE_HEADER = "Cinema-Signature"
_EVENT_TYPES = {
    EventType.PAYMENT_SUCCEEDED,
    EventType.PAYMENT_FAILED,
    EventType.PAYMENT_CANCELED,
    EventType.REFUND_SUCCEEDED,
}


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """The `Cinema-Signature` header: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(body: bytes, header: str | None, *, secret: str, tolerance: int) -> None:
    if not header:
        raise InvalidSignature("no signature header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _sep, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise InvalidSignature("no timestamp in the signature") from exc
    if abs(time.time() - timestamp) > tolerance:
        raise InvalidSignature("the signature is too old or from the future")
    expected = sign(body, secret=secret, timestamp=timestamp).rpartition("v1=")[2]
    # Constant time, so the signature cannot be guessed byte by byte from response times.
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise InvalidSignature("the signature does not match")


logger = structlog.get_logger(__name__)


class WebhookNotDelivered(Exception):
    pass


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(WebhookNotDelivered,),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=10,
)
def deliver_sandbox_webhook(body: str) -> None:
    """POST one signed event to the app, as a provider's delivery queue does; any answer but a
    2xx is retried with backoff (the event id makes a repeated delivery harmless)."""
    raw = body.encode()
    request = urllib.request.Request(  # noqa: S310 - the configured http(s) webhook URL
        settings.PAYMENT_WEBHOOK_URL,
        data=raw,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(
                raw, secret=settings.PAYMENT_WEBHOOK_SECRET, timestamp=int(time.time())
            ),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        logger.warning("sandbox_webhook_unreachable", error=str(exc))
        raise WebhookNotDelivered(str(exc)) from exc
    if not 200 <= status < 300:
        logger.warning("sandbox_webhook_refused", status=status)
        raise WebhookNotDelivered(f"answered {status}")


def pix_copy_paste(*, reference: str, amount: Decimal) -> str:
    """A PIX "copia e cola" code in the BR Code (EMV) layout, with its CRC16 checksum."""

    def field(tag: str, value: str) -> str:
        return f"{tag}{len(value):02d}{value}"

    account = field("00", "br.gov.bcb.pix") + field("01", f"sandbox-{reference[-20:]}")
    payload = (
        field("00", "01")
        + field("26", account)
        + field("52", "0000")
        + field("53", "986")
        + field("54", f"{amount:.2f}")
        + field("58", "BR")
        + field("59", "CINEMA SANDBOX")
        + field("60", "SAO PAULO")
        + field("62", field("05", reference[-25:]))
        + "6304"
    )
    crc = 0xFFFF
    for byte in payload.encode():
        crc ^= byte << 8
        for _bit in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{payload}{crc:04X}"


class FakeProvider:
    name = "fake"
    lookup_lag_seconds = 0.0  # its ledger is read directly

    def create_payment(
        self,
        *,
        payment_id: uuid.UUID,
        amount: Decimal,
        currency: str,
        token: str,
        idempotency_key: str,
    ) -> ProviderPayment:
        method, status, reason = "card", Outcome.SUCCEEDED, ""
        if token == DECLINED_TOKEN:
            status, reason = Outcome.FAILED, "card_declined"
        elif token == PIX_TOKEN:
            method, status = "pix", Outcome.PENDING
        elif token == THREE_DS_TOKEN:
            status = Outcome.PENDING
        row = FakeProviderPayment(
            reference=f"fpi_{uuid.uuid4().hex}",
            idempotency_key=idempotency_key,
            payment_id=payment_id,
            amount=amount,
            currency=currency,
            method=method,
            status=status,
            failure_reason=reason,
        )
        # A key seen before (a retry, or the same key at the same instant): the first one stands.
        try:
            with single_write():
                row.save(force_insert=True)
        except IntegrityError:
            row = FakeProviderPayment.objects.get(idempotency_key=idempotency_key)
        return self._view(row)

    def retrieve_payment(self, *, reference: str) -> ProviderPayment:
        return self._view(FakeProviderPayment.objects.get(reference=reference))

    def find_payment(
        self, *, payment_id: uuid.UUID, idempotency_key: str
    ) -> ProviderPayment | None:
        row = FakeProviderPayment.objects.filter(idempotency_key=idempotency_key).first()
        return None if row is None else self._view(row)

    def cancel_payment(self, *, reference: str) -> ProviderPayment:
        FakeProviderPayment.objects.filter(reference=reference, status=Outcome.PENDING).update(
            status=Outcome.CANCELED
        )
        return self.retrieve_payment(reference=reference)

    def refund_payment(
        self, *, reference: str, amount: Decimal, idempotency_key: str
    ) -> ProviderRefund:
        refunded = FakeProviderPayment.objects.filter(
            reference=reference, status=Outcome.SUCCEEDED
        ).update(status="refunded", refund_key=idempotency_key)
        row = FakeProviderPayment.objects.filter(reference=reference).first()
        if row is None:
            raise ProviderError(f"no such payment: {reference!r}")
        if row.status != "refunded":
            return ProviderRefund(reference="", status="failed")
        if refunded:
            self._announce(row, EventType.REFUND_SUCCEEDED)
        return ProviderRefund(reference=f"fre_{row.reference[4:]}", status="succeeded")

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        verify(
            body,
            headers.get(SIGNATURE_HEADER),
            secret=settings.PAYMENT_WEBHOOK_SECRET,
            tolerance=settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS,
        )
        try:
            payload = json.loads(body)
            event_type = str(payload["type"])
            payment_id = uuid.UUID(str(payload["data"]["payment_id"]))
            return ProviderEvent(
                id=str(payload["id"])[:120],
                type=event_type if event_type in _EVENT_TYPES else EventType.OTHER,
                payment_id=payment_id,
                reference=str(payload["data"].get("reference", ""))[:120],
                created=int(payload["created"]),
                payload=payload,
                failure_reason=str(payload["data"].get("reason", ""))[:200],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidSignature(f"a signed body that is not an event: {exc}") from exc

    # --- the sandbox: what the buyer's bank app or 3-D Secure page would do -------------------

    def settle(self, *, payment_id: uuid.UUID, succeeded: bool) -> bool:
        """The buyer paid (or failed to). Returns False when nothing was pending."""
        status = Outcome.SUCCEEDED if succeeded else Outcome.FAILED
        row = FakeProviderPayment.objects.filter(payment_id=payment_id).first()
        if row is None:
            return False
        changed = FakeProviderPayment.objects.filter(
            reference=row.reference, status=Outcome.PENDING
        ).update(status=status, failure_reason="" if succeeded else "payment_failed")
        if changed:
            row.refresh_from_db()
            self._announce(
                row, EventType.PAYMENT_SUCCEEDED if succeeded else EventType.PAYMENT_FAILED
            )
        return bool(changed)

    def _announce(self, row: FakeProviderPayment, event_type: str) -> None:
        body = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": event_type,
            "created": int(time.time()),
            "data": {
                "payment_id": str(row.payment_id),
                "reference": row.reference,
                "amount": f"{row.amount:.2f}",
                "currency": row.currency,
            },
        }
        try:
            deliver_sandbox_webhook.delay(json.dumps(body))
        except Exception as exc:  # the broker's failures come in many types
            # As with a real provider whose webhook is lost: reconciliation asks and finds it.
            logger.warning("sandbox_webhook_not_queued", event_id=body["id"], error=str(exc))

    def _view(self, row: FakeProviderPayment) -> ProviderPayment:
        next_action = None
        if row.status == Outcome.PENDING:
            sandbox = reverse("payment-sandbox", kwargs={"payment_id": row.payment_id})
            if row.method == "pix":
                next_action = {
                    "type": "pix",
                    "copy_paste": pix_copy_paste(reference=row.reference, amount=row.amount),
                    "qr_svg_url": reverse(
                        "payment-sandbox-pix-qr", kwargs={"payment_id": row.payment_id}
                    ),
                }
            else:
                next_action = {"type": "redirect", "url": sandbox}
        status = Outcome.SUCCEEDED if row.status == "refunded" else row.status
        return ProviderPayment(
            reference=row.reference,
            status=status,
            method=row.method,
            next_action=next_action,
            failure_reason=row.failure_reason,
        )
