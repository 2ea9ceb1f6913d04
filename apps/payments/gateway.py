"""The payment-gateway boundary. A real provider implements `PaymentGateway` and is named in
the `PAYMENT_GATEWAY` setting; nothing else in the code knows which provider is in use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

DECLINED_TEST_TOKEN = "tok_declined"  # noqa: S105 - a documented test card, not a secret


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    reference: str = ""
    decline_reason: str = ""


class PaymentGateway(Protocol):
    name: str

    def charge(self, *, amount: Decimal, token: str, idempotency_key: str) -> ChargeResult:
        """Charge `amount` to the card behind `token`. `idempotency_key` lets the provider
        deduplicate a retried charge."""
        ...

    def refund(self, *, reference: str, amount: Decimal) -> None:
        """Give back a charge that could not become a sale (the hold ran out meanwhile)."""
        ...


class FakeGateway:
    """Approves every token but the documented test card `tok_declined`."""

    name = "fake"

    def charge(self, *, amount: Decimal, token: str, idempotency_key: str) -> ChargeResult:
        if token == DECLINED_TEST_TOKEN:
            return ChargeResult(approved=False, decline_reason="card_declined")
        return ChargeResult(approved=True, reference=f"fake_{uuid.uuid4().hex}")

    def refund(self, *, reference: str, amount: Decimal) -> None:
        return None


@cache
def _gateway_class(path: str) -> type:
    return import_string(path)


def get_gateway() -> PaymentGateway:
    return _gateway_class(settings.PAYMENT_GATEWAY)()
