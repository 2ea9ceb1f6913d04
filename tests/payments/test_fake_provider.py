"""The sandbox provider through the provider boundary, PAYMENT_PROVIDER, and webhook signatures."""

from __future__ import annotations

import binascii
import json
import time
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.payments.models import FakeProviderPayment
from apps.payments.providers import fake, get_provider
from apps.payments.providers.base import (
    InvalidSignature,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
)
from apps.payments.providers.fake import FakeProvider, sign, verify
from apps.payments.providers.stripe import StripeProvider

SECRET = "whsec-test"
TOLERANCE = 300


def create(provider: FakeProvider, token: str, *, key: str = "key-1", payment_id=None, amount="50"):
    return provider.create_payment(
        payment_id=payment_id or uuid.uuid4(),
        amount=Decimal(amount),
        currency="BRL",
        token=token,
        idempotency_key=key,
    )


def ledger() -> list[tuple]:
    """The sandbox's own rows, as a real provider would keep them."""
    return list(
        FakeProviderPayment.objects.order_by("created_at").values_list(
            "reference", "idempotency_key", "payment_id", "amount", "currency", "method", "status"
        )
    )


@pytest.fixture
def announced(monkeypatch) -> list[dict]:
    """The webhooks the sandbox queues for delivery (their bodies, decoded)."""
    bodies: list[dict] = []
    monkeypatch.setattr(
        fake.deliver_sandbox_webhook, "delay", lambda body: bodies.append(json.loads(body))
    )
    return bodies


def emv_fields(code: str) -> dict[str, str]:
    """The top-level ID/length/value fields of an EMV (BR Code) payload."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(code):
        tag, length = code[position : position + 2], int(code[position + 2 : position + 4])
        fields[tag] = code[position + 4 : position + 4 + length]
        position += 4 + length
    assert position == len(code), code
    return fields


# --- creating a payment -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_card_is_approved_at_once_with_a_reference(announced):
    provider = FakeProvider()
    payment_id = uuid.uuid4()

    first = create(provider, "tok_visa", key="k-1", payment_id=payment_id)
    second = create(provider, "tok_visa", key="k-2")

    assert first == ProviderPayment(
        reference=first.reference,
        status="succeeded",
        method="card",
        next_action=None,
        failure_reason="",
    )
    assert first.reference.startswith("fpi_")
    assert len(first.reference) > len("fpi_")
    assert second.status == "succeeded"
    assert second.reference != first.reference
    assert ledger()[0] == (
        first.reference,
        "k-1",
        payment_id,
        Decimal("50.00"),
        "BRL",
        "card",
        "succeeded",
    )
    assert len(ledger()) == 2
    assert announced == []  # an answer given at once needs no webhook


@pytest.mark.django_db
def test_tok_declined_is_a_failed_payment_not_an_exception():
    result = create(FakeProvider(), "tok_declined")

    assert result == ProviderPayment(
        reference=result.reference,
        status="failed",
        method="card",
        next_action=None,
        failure_reason="card_declined",
    )
    assert result.reference.startswith("fpi_")
    assert [row[-1] for row in ledger()] == ["failed"]


@pytest.mark.django_db
def test_tok_pix_is_pending_with_a_br_code_to_copy_and_paste():
    payment_id = uuid.uuid4()

    result = create(FakeProvider(), "tok_pix", payment_id=payment_id, amount="63.50")

    assert (result.status, result.method, result.failure_reason) == ("pending", "pix", "")
    assert set(result.next_action) == {"type", "copy_paste", "qr_svg_url"}
    assert result.next_action["type"] == "pix"
    assert result.next_action["qr_svg_url"] == reverse(
        "payment-sandbox-pix-qr", kwargs={"payment_id": payment_id}
    )
    code = result.next_action["copy_paste"]
    # The CRC16 (CCITT, initial 0xFFFF) of everything up to and including the CRC's own "6304".
    body, checksum = code[:-4], code[-4:]
    assert body.endswith("6304")
    assert checksum == f"{binascii.crc_hqx(body.encode(), 0xFFFF):04X}"
    fields = emv_fields(code)
    assert list(fields) == ["00", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    assert (fields["00"], fields["52"], fields["53"], fields["54"], fields["58"]) == (
        "01",
        "0000",
        "986",  # BRL
        "63.50",
        "BR",
    )
    assert emv_fields(fields["26"])["00"] == "br.gov.bcb.pix"
    assert fields["63"] == checksum
    assert [row[-2:] for row in ledger()] == [("pix", "pending")]


def test_the_br_code_checksum_catches_a_changed_amount():
    code = fake.pix_copy_paste(reference="fpi_0123456789abcdef", amount=Decimal("10.00"))
    tampered = code.replace("540510.00", "540520.00")

    assert tampered != code
    assert code[-4:] == f"{binascii.crc_hqx(code[:-4].encode(), 0xFFFF):04X}"
    assert tampered[-4:] != f"{binascii.crc_hqx(tampered[:-4].encode(), 0xFFFF):04X}"


@pytest.mark.django_db
def test_tok_3ds_is_a_pending_card_with_a_redirect():
    payment_id = uuid.uuid4()

    result = create(FakeProvider(), "tok_3ds", payment_id=payment_id)

    assert result == ProviderPayment(
        reference=result.reference,
        status="pending",
        method="card",
        next_action={
            "type": "redirect",
            "url": reverse("payment-sandbox", kwargs={"payment_id": payment_id}),
        },
        failure_reason="",
    )


@pytest.mark.django_db
def test_the_same_idempotency_key_twice_is_one_payment():
    provider = FakeProvider()
    payment_id = uuid.uuid4()

    first = create(provider, "tok_visa", key="same", payment_id=payment_id)
    second = create(provider, "tok_declined", key="same", payment_id=uuid.uuid4(), amount="1")

    # The first call's payment as it is now, never a second charge.
    assert second == first
    assert ledger() == [
        (first.reference, "same", payment_id, Decimal("50.00"), "BRL", "card", "succeeded")
    ]


# --- retrieving and finding ---------------------------------------------------------------------


@pytest.mark.django_db
def test_find_payment_by_its_idempotency_key():
    provider = FakeProvider()
    payment_id = uuid.uuid4()
    created = create(provider, "tok_3ds", key="attempt-1", payment_id=payment_id)

    found = provider.find_payment(payment_id=payment_id, idempotency_key="attempt-1")
    missing = provider.find_payment(payment_id=payment_id, idempotency_key="never-sent")

    assert found == created
    assert provider.retrieve_payment(reference=created.reference) == created
    assert missing is None


# --- cancelling ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cancelling_a_pending_payment_cancels_it(announced):
    provider = FakeProvider()
    pending = create(provider, "tok_pix")

    result = provider.cancel_payment(reference=pending.reference)

    assert result == ProviderPayment(
        reference=pending.reference,
        status="canceled",
        method="pix",
        next_action=None,
        failure_reason="",
    )
    assert provider.retrieve_payment(reference=pending.reference) == result
    assert [row[-1] for row in ledger()] == ["canceled"]
    assert provider.settle(payment_id=ledger()[0][2], succeeded=True) is False
    assert [row[-1] for row in ledger()] == ["canceled"]
    assert announced == []


@pytest.mark.django_db
def test_cancelling_a_succeeded_payment_leaves_it_succeeded():
    provider = FakeProvider()
    paid = create(provider, "tok_visa")

    result = provider.cancel_payment(reference=paid.reference)

    # The caller learns the money was taken (and refunds it).
    assert result == paid
    assert result.status == "succeeded"
    assert [row[-1] for row in ledger()] == ["succeeded"]


# --- settling (the sandbox's buyer) ---------------------------------------------------------


@pytest.mark.django_db
def test_settling_a_pending_payment_announces_the_outcome(announced):
    provider = FakeProvider()
    payment_id = uuid.uuid4()
    pending = create(provider, "tok_pix", payment_id=payment_id, amount="30")
    before = time.time()

    assert provider.settle(payment_id=payment_id, succeeded=True) is True
    assert provider.settle(payment_id=payment_id, succeeded=False) is False  # nothing pending
    assert provider.settle(payment_id=uuid.uuid4(), succeeded=True) is False  # unknown

    assert provider.retrieve_payment(reference=pending.reference).status == "succeeded"
    [event] = announced
    assert event["id"].startswith("evt_")
    assert event["type"] == "payment.succeeded"
    assert before - 1 <= event["created"] <= time.time() + 1
    assert event["data"] == {
        "payment_id": str(payment_id),
        "reference": pending.reference,
        "amount": "30.00",
        "currency": "BRL",
    }


@pytest.mark.django_db
def test_a_failed_settlement_announces_the_failure(announced):
    provider = FakeProvider()
    payment_id = uuid.uuid4()
    pending = create(provider, "tok_3ds", payment_id=payment_id)

    assert provider.settle(payment_id=payment_id, succeeded=False) is True

    result = provider.retrieve_payment(reference=pending.reference)
    assert (result.status, result.failure_reason, result.next_action) == (
        "failed",
        "payment_failed",
        None,
    )
    assert [event["type"] for event in announced] == ["payment.failed"]


# --- refunding ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_refunding_a_succeeded_payment(announced):
    provider = FakeProvider()
    payment_id = uuid.uuid4()
    paid = create(provider, "tok_visa", payment_id=payment_id)

    refund = provider.refund_payment(
        reference=paid.reference, amount=Decimal("50.00"), idempotency_key="refund-1"
    )
    again = provider.refund_payment(
        reference=paid.reference, amount=Decimal("50.00"), idempotency_key="refund-1"
    )

    assert refund == ProviderRefund(reference=f"fre_{paid.reference[4:]}", status="succeeded")
    assert again == refund  # asked twice, refunded once
    row = FakeProviderPayment.objects.get()
    assert (row.status, row.refund_key) == ("refunded", "refund-1")
    [event] = announced
    assert event["type"] == "refund.succeeded"
    assert event["data"]["payment_id"] == str(payment_id)
    assert event["data"]["reference"] == paid.reference


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["tok_declined", "tok_pix"])
def test_refunding_a_payment_that_took_no_money_fails(announced, token):
    provider = FakeProvider()
    unpaid = create(provider, token)
    before = ledger()

    refund = provider.refund_payment(
        reference=unpaid.reference, amount=Decimal("50.00"), idempotency_key="refund-1"
    )

    assert refund == ProviderRefund(reference="", status="failed")
    assert ledger() == before
    assert FakeProviderPayment.objects.get().refund_key == ""
    assert announced == []


# --- PAYMENT_PROVIDER -------------------------------------------------------------------------


def test_get_provider_is_the_sandbox_by_default():
    provider = get_provider()

    assert isinstance(provider, FakeProvider)
    assert provider.name == "fake"


def test_get_provider_honours_the_setting(settings):
    settings.PAYMENT_PROVIDER = "stripe"

    provider = get_provider()

    assert isinstance(provider, StripeProvider)
    assert provider.name == "stripe"


def test_an_unknown_provider_is_refused(settings):
    settings.PAYMENT_PROVIDER = "paypal"

    with pytest.raises(RuntimeError, match="paypal"):
        get_provider()


# --- webhook signatures -------------------------------------------------------------------------

BODY = b'{"id": "evt_1", "type": "payment.succeeded"}'


def test_a_valid_signature_passes():
    header = sign(BODY, secret=SECRET, timestamp=int(time.time()))

    assert header.startswith("t=")
    assert ",v1=" in header
    assert verify(BODY, header, secret=SECRET, tolerance=TOLERANCE) is None


def test_a_tampered_body_is_refused():
    header = sign(BODY, secret=SECRET, timestamp=int(time.time()))

    with pytest.raises(InvalidSignature):
        verify(BODY.replace(b"succeeded", b"failed"), header, secret=SECRET, tolerance=TOLERANCE)


def test_a_signature_with_another_secret_is_refused():
    header = sign(BODY, secret="whsec-someone-else", timestamp=int(time.time()))

    with pytest.raises(InvalidSignature):
        verify(BODY, header, secret=SECRET, tolerance=TOLERANCE)


@pytest.mark.parametrize("age", [600, -600], ids=["ten-minutes-old", "ten-minutes-ahead"])
def test_a_signature_outside_the_tolerance_is_refused(age):
    header = sign(BODY, secret=SECRET, timestamp=int(time.time()) - age)

    with pytest.raises(InvalidSignature):
        verify(BODY, header, secret=SECRET, tolerance=TOLERANCE)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=soon,v1=abc"])
def test_a_missing_header_or_timestamp_is_refused(header):
    with pytest.raises(InvalidSignature):
        verify(BODY, header, secret=SECRET, tolerance=TOLERANCE)


def test_parse_webhook_checks_the_signature_and_normalises_the_event(settings):
    payment_id = uuid.uuid4()
    body = json.dumps(
        {
            "id": "evt_42",
            "type": "payment.succeeded",
            "created": 1_700_000_000,
            "data": {"payment_id": str(payment_id), "reference": "fpi_abc"},
        }
    ).encode()
    header = sign(body, secret=settings.PAYMENT_WEBHOOK_SECRET, timestamp=int(time.time()))
    provider = FakeProvider()

    event = provider.parse_webhook(body=body, headers={"Cinema-Signature": header})

    assert event == ProviderEvent(
        id="evt_42",
        type="payment.succeeded",
        payment_id=payment_id,
        reference="fpi_abc",
        created=1_700_000_000,
        payload=json.loads(body),
    )
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(body=body, headers={})
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(body=body + b" ", headers={"Cinema-Signature": header})
