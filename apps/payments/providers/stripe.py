"""Stripe adapter for the payment-provider boundary (`apps.payments.providers.base`).

Payments are PaymentIntents created and confirmed in one call: a card (a PaymentMethod id the
frontend got from Stripe.js) or PIX (the token "pix"), always in BRL, amounts in centavos. Every
call goes through one `stripe.StripeClient` per process and settings, with the SDK's own network
retries off: the app retries by itself with its idempotency keys, and a second retry layer would
only multiply the wait a buyer sits through when Stripe is down. No Stripe exception leaves this
module; each one becomes a decline (a FAILED payment), `ProviderUnavailable` or `ProviderError`.
"""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

from apps.payments.providers.base import (
    EventType,
    InvalidSignature,
    Outcome,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    ProviderUnavailable,
)

PIX = "pix"  # the `token` that asks for a PIX payment instead of a card
SIGNATURE_HEADER = "Stripe-Signature"

# Statuses absent here (one a newer API version might add) read as PENDING: that never moves money
# and the webhook or reconciliation settles it later, where an error would fail a live charge.
_INTENT_OUTCOMES = {
    "succeeded": Outcome.SUCCEEDED,
    "processing": Outcome.PENDING,
    "requires_action": Outcome.PENDING,
    "requires_confirmation": Outcome.PENDING,
    "requires_capture": Outcome.PENDING,
    "canceled": Outcome.CANCELED,
    # Every intent is created with confirm=True, so this status only follows a failed attempt
    # (a decline, a failed 3-D Secure, an expired PIX code).
    "requires_payment_method": Outcome.FAILED,
}

_REFUND_STATUSES = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}

_PAYMENT_EVENTS = {
    "payment_intent.succeeded": EventType.PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": EventType.PAYMENT_FAILED,
    "payment_intent.canceled": EventType.PAYMENT_CANCELED,
}
_REFUND_EVENTS = {"refund.created", "refund.updated"}


@functools.lru_cache(maxsize=4)
def _client_for(pid: int, api_key: str, api_base: str, timeout: float) -> stripe.StripeClient:
    # `pid` is in the key so a worker forked after the first call builds its own client rather
    # than share the parent's pooled connections. StripeClient takes no timeout of its own: it
    # lives on the HTTP client, which otherwise waits 80 seconds for an answer.
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def get_client() -> stripe.StripeClient:
    """The process's StripeClient for the current settings."""
    if not settings.STRIPE_SECRET_KEY:
        raise ProviderError("Stripe is not configured: STRIPE_SECRET_KEY is empty")
    return _client_for(
        os.getpid(),
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        float(settings.STRIPE_TIMEOUT_SECONDS),
    )


def clear_client_cache() -> None:
    """Forget the cached clients (tests that change the Stripe settings call this)."""
    _client_for.cache_clear()


def to_centavos(amount: Decimal) -> int:
    """Reais to the integer centavos Stripe takes. A fraction of a centavo is a bug upstream, and
    rounding it away here would charge a different amount than the one shown."""
    centavos = Decimal(amount) * 100
    if centavos != centavos.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of centavos")
    return int(centavos)


def _translate(exc: stripe.StripeError) -> ProviderUnavailable | ProviderError:
    if isinstance(exc, stripe.APIConnectionError):
        # Connection refused, DNS, TLS or a read timeout: whether Stripe acted is unknown, which is
        # why the caller retries with the same idempotency key rather than a new one.
        return ProviderUnavailable(f"Stripe unreachable: {exc.user_message}")
    details = ", ".join(
        part
        for part in (
            f"HTTP {exc.http_status}" if exc.http_status else "",
            f"code {exc.code}" if exc.code else "",
            f"request {exc.request_id}" if exc.request_id else "",
        )
        if part
    )
    return ProviderError(f"Stripe {type(exc).__name__} ({details}): {exc.user_message}")


def _method(intent: Mapping[str, Any], token: str = "") -> str:
    types = intent.get("payment_method_types") or []
    if PIX in types or token == PIX:
        return "pix"
    return "card"


def _next_action(intent: Mapping[str, Any]) -> dict[str, Any] | None:
    action = intent.get("next_action")
    if not action:
        return None
    kind = action.get("type")
    if kind == "redirect_to_url":
        return {"type": "redirect", "url": (action.get("redirect_to_url") or {}).get("url")}
    if kind == "pix_display_qr_code":
        pix = action.get("pix_display_qr_code") or {}
        return {
            "type": "pix",
            "copy_paste": pix.get("data"),
            "qr_svg_url": pix.get("image_url_svg"),
            "expires_at": pix.get("expires_at"),
        }
    # Some other step for the buyer (e.g. use_stripe_sdk): the caller still learns one is due.
    return {"type": kind}


def _failure_reason(error: Mapping[str, Any] | None) -> str:
    if not error:
        return ""
    return error.get("decline_code") or error.get("code") or ""


def _to_payment(intent: Mapping[str, Any], token: str = "") -> ProviderPayment:
    status = _INTENT_OUTCOMES.get(intent.get("status", ""), Outcome.PENDING)
    return ProviderPayment(
        reference=intent["id"],
        status=status,
        method=_method(intent, token),
        next_action=_next_action(intent) if status == Outcome.PENDING else None,
        failure_reason=(
            _failure_reason(intent.get("last_payment_error")) if status == Outcome.FAILED else ""
        ),
    )


def _was_replayed(obj: stripe.StripeObject) -> bool:
    response = obj.last_response
    return bool(response and response.headers.get("Idempotent-Replayed", "") == "true")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        # A plain dict (a test, a queue message) is not case-insensitive like request.headers.
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value or ""


def _signature_timestamp(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t":
            return int(value)
    raise ValueError("no timestamp")


def _payment_reference(obj: Mapping[str, Any]) -> str:
    """The PaymentIntent id an event's object is, or belongs to (a charge's, a refund's)."""
    if obj.get("object") == "payment_intent":
        return obj.get("id") or ""
    intent = obj.get("payment_intent")
    if isinstance(intent, Mapping):  # expanded
        intent = intent.get("id")
    return intent or ""


def _payment_id(obj: Mapping[str, Any]) -> uuid.UUID | None:
    raw = (obj.get("metadata") or {}).get("payment_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


class StripeProvider:
    """The `PaymentProvider` for Stripe, on the official SDK."""

    name = "stripe"

    @property
    def lookup_lag_seconds(self) -> float:
        return settings.STRIPE_SEARCH_LAG_SECONDS

    def create_payment(
        self,
        *,
        payment_id: uuid.UUID,
        amount: Decimal,
        currency: str,
        token: str,
        idempotency_key: str,
    ) -> ProviderPayment:
        if currency.upper() != "BRL":
            raise ValueError(f"StripeProvider charges in BRL only, not {currency}")
        params: dict[str, Any] = {
            "amount": to_centavos(amount),
            "currency": "brl",
            "confirm": True,
            "metadata": {"payment_id": str(payment_id)},
        }
        if token == PIX:
            params["payment_method_types"] = ["pix"]
            params["payment_method_data"] = {"type": "pix"}
        else:
            params["payment_method"] = token
            params["payment_method_types"] = ["card"]
            # Without a return_url Stripe hands 3-D Secure to Stripe.js (`use_stripe_sdk`) instead
            # of giving a URL the buyer can be sent to.
            params["return_url"] = settings.STRIPE_RETURN_URL
        client = get_client()
        try:
            intent = client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
            if _was_replayed(intent):
                # Stripe replays the first response as it was then; the protocol promises the
                # payment as it is now (the buyer may have paid the PIX code since).
                intent = client.v1.payment_intents.retrieve(intent.id)
        except stripe.InvalidRequestError as exc:
            if exc.param != "payment_method" and exc.code != "resource_missing":
                raise _translate(exc) from exc
            # A PaymentMethod Stripe does not know: the client's token is bad, a decline (402),
            # not a provider failure to retry.
            return ProviderPayment(
                reference="", status=Outcome.FAILED, failure_reason=exc.code or "invalid_token"
            )
        except stripe.CardError as exc:
            # Stripe answers a decline with HTTP 402 and the failed intent inside the error.
            body = exc.json_body if isinstance(exc.json_body, dict) else {}
            error = body.get("error") or {}
            failed_intent = error.get("payment_intent") or {}
            return ProviderPayment(
                reference=failed_intent.get("id", ""),
                status=Outcome.FAILED,
                method=_method(failed_intent, token),
                failure_reason=error.get("decline_code") or exc.code or "",
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return _to_payment(intent.to_dict(), token)

    def retrieve_payment(self, *, reference: str) -> ProviderPayment:
        try:
            intent = get_client().v1.payment_intents.retrieve(reference)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return _to_payment(intent.to_dict())

    def find_payment(
        self, *, payment_id: uuid.UUID, idempotency_key: str
    ) -> ProviderPayment | None:
        """The intent created for this attempt, found by the `payment_id` every intent carries
        in its metadata (Stripe cannot be asked by idempotency key), or None without a hit.

        Stripe's search is eventually consistent: an intent is searchable within about a minute,
        longer while Stripe is recovering from an outage, so "no hit" is only trustworthy for an
        attempt older than that. A hit is retrieved again by id: the index may hold an older
        status than the intent has now (a PIX code paid since)."""
        client = get_client()
        query = f"metadata['payment_id']:'{uuid.UUID(str(payment_id))}'"
        try:
            found = client.v1.payment_intents.search(params={"query": query})
            hits = [hit.to_dict() for hit in found.data]
            if not hits:
                return None
            # One attempt makes one intent (its idempotency key sees to that); should there be
            # more, the one that took the money is the one the app must not miss.
            hit = next((h for h in hits if h.get("status") == "succeeded"), hits[0])
            intent = client.v1.payment_intents.retrieve(hit["id"])
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return _to_payment(intent.to_dict())

    def cancel_payment(self, *, reference: str) -> ProviderPayment:
        client = get_client()
        try:
            try:
                intent = client.v1.payment_intents.cancel(reference)
            except stripe.InvalidRequestError as exc:
                # Stripe refuses to cancel an intent that has succeeded (or was canceled, or is
                # processing): the caller needs to know where it is, not that cancel failed.
                if exc.code != "payment_intent_unexpected_state":
                    raise
                intent = client.v1.payment_intents.retrieve(reference)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return _to_payment(intent.to_dict())

    def refund_payment(
        self, *, reference: str, amount: Decimal, idempotency_key: str
    ) -> ProviderRefund:
        try:
            refund = get_client().v1.refunds.create(
                params={"payment_intent": reference, "amount": to_centavos(amount)},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        # An unknown status reads as pending: the refund webhook or reconciliation settles it.
        return ProviderRefund(
            reference=refund.id, status=_REFUND_STATUSES.get(refund.status or "", "pending")
        )

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
        tolerance = settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS
        try:
            stripe.Webhook.construct_event(
                body, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=tolerance
            )
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature(str(exc)) from exc
        except (ValueError, TypeError, AttributeError) as exc:
            # Signed but not UTF-8 JSON (ValueError), or JSON but not an object, which the SDK
            # trips over while building the Event.
            raise InvalidSignature(f"webhook body is not a JSON object: {exc}") from exc
        # The SDK only refuses timestamps that are too old; one far in the future would let a
        # captured webhook be replayed long after, so it is refused as well.
        if _signature_timestamp(signature) > time.time() + tolerance:
            raise InvalidSignature("webhook timestamp is in the future")
        # The payload stored is the JSON as received, not the SDK's Event, whose to_dict() may
        # hold Decimals that no JSONField can store.
        payload = json.loads(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise InvalidSignature("webhook body is not a Stripe event")
        return self._normalise(payload)

    def _normalise(self, payload: dict[str, Any]) -> ProviderEvent:
        kind = payload.get("type", "")
        obj = payload["data"].get("object")
        if not isinstance(obj, dict):
            obj = {}
        reference = _payment_reference(obj)
        if kind in _PAYMENT_EVENTS and obj.get("object") == "payment_intent":
            event_type = _PAYMENT_EVENTS[kind]
        elif (
            kind == "charge.refunded"
            or (kind in _REFUND_EVENTS and obj.get("status") == "succeeded")
        ) and reference:
            # (Without a PaymentIntent the refunded charge was not made by this app.)
            event_type = EventType.REFUND_SUCCEEDED
        else:
            event_type = EventType.OTHER
        return ProviderEvent(
            id=payload.get("id", ""),
            type=event_type,
            payment_id=_payment_id(obj),
            reference=reference,
            created=int(payload.get("created") or 0),
            payload=payload,
            failure_reason=_failure_reason(obj.get("last_payment_error"))
            if event_type == EventType.PAYMENT_FAILED
            else "",
        )
