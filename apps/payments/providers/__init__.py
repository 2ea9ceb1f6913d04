"""Payment providers behind one boundary (base.py). `PAYMENT_PROVIDER` names the one in use."""

from __future__ import annotations

from django.conf import settings

from .base import PaymentProvider


def provider_named(name: str) -> PaymentProvider | None:
    """The provider that answers to `name` here, or None. The sandbox exists only while it is
    the configured provider; Stripe only once it has a webhook secret."""
    if name == "fake" and settings.PAYMENT_PROVIDER == "fake":
        from .fake import FakeProvider

        return FakeProvider()
    if name == "stripe" and (
        settings.PAYMENT_PROVIDER == "stripe" or settings.STRIPE_WEBHOOK_SECRET
    ):
        from .stripe import StripeProvider

        return StripeProvider()
    return None


def get_provider() -> PaymentProvider:
    provider = provider_named(settings.PAYMENT_PROVIDER)
    if provider is None:
        raise RuntimeError(f"unknown PAYMENT_PROVIDER {settings.PAYMENT_PROVIDER!r}")
    return provider
