"""The payment-provider boundary. Everything the app knows of a provider goes through here.

A provider creates a payment (approved at once, declined, or settling later with a next action for
the buyer), reports where a payment is, cancels one that is still pending, refunds one that
succeeded, and announces outcomes by signed webhooks, which `parse_webhook` checks and normalises.
Every call that moves money takes an idempotency key, so a retried call (after a timeout, a crash or
by reconciliation) never charges or refunds twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


class Outcome:
    """Where a payment is at the provider (a subset of the app's Payment statuses)."""

    PENDING = "pending"  # waiting for the buyer (PIX, 3-D Secure) or for settlement
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class EventType:
    """Webhook event types, normalised: each adapter maps its provider's names onto these."""

    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_CANCELED = "payment.canceled"
    REFUND_SUCCEEDED = "refund.succeeded"
    OTHER = "other"  # stored like any event, then ignored


@dataclass(frozen=True)
class ProviderPayment:
    reference: str  # the provider's id of the payment
    status: str  # an Outcome
    method: str = "card"  # "card" or "pix"
    next_action: dict[str, Any] | None = None  # what the buyer must do while it is pending
    failure_reason: str = ""


@dataclass(frozen=True)
class ProviderRefund:
    reference: str
    status: str  # "succeeded", "pending" (the provider confirms by webhook) or "failed"


@dataclass(frozen=True)
class ProviderEvent:
    id: str  # the provider's event id: the deduplication key
    type: str  # an EventType
    payment_id: uuid.UUID | None  # the app's Payment id, when the provider echoes it back
    reference: str  # the provider's payment id
    created: int  # Unix seconds, by the provider's clock
    payload: dict[str, Any] = field(default_factory=dict)  # the event as received
    failure_reason: str = ""  # for a failed payment: the provider's reason


class ProviderUnavailable(Exception):
    """The provider could not be reached or did not answer in time (a 503 for the client)."""


class ProviderError(Exception):
    """The provider answered with an error other than a decline (a 502 for the client)."""


class InvalidSignature(Exception):
    """A webhook whose signature, timestamp or body does not check out."""


class PaymentProvider(Protocol):
    name: str
    # How long after its creation a payment may still be missing from `find_payment` (a search
    # index that lags its writes): only an older miss means the provider never got the attempt.
    lookup_lag_seconds: float

    def create_payment(
        self,
        *,
        payment_id: uuid.UUID,
        amount: Decimal,
        currency: str,
        token: str,
        idempotency_key: str,
    ) -> ProviderPayment:
        """Charge `amount`. The same `idempotency_key` again returns the first call's payment
        as it is now, never a second charge. A decline is a FAILED payment, not an exception."""
        ...

    def retrieve_payment(self, *, reference: str) -> ProviderPayment: ...

    def find_payment(
        self, *, payment_id: uuid.UUID, idempotency_key: str
    ) -> ProviderPayment | None:
        """The payment created for this attempt, or None when the provider never got it (what
        reconciliation asks of an attempt whose creation call timed out or crashed)."""
        ...

    def cancel_payment(self, *, reference: str) -> ProviderPayment:
        """Cancel a pending payment. Returns the payment as it is after the attempt: SUCCEEDED
        when it settled first (the caller then refunds it)."""
        ...

    def refund_payment(
        self, *, reference: str, amount: Decimal, idempotency_key: str
    ) -> ProviderRefund: ...

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Check the signature over the raw body (raising InvalidSignature) and normalise."""
        ...
