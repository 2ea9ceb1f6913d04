"""Fixtures of the payments tests that talk to the local Stripe stub."""

from __future__ import annotations

import pytest

from apps.payments.providers.stripe import clear_client_cache
from tests.payments.stripe_stub import point_stripe_at_nothing, stripe_stub


@pytest.fixture
def stripe_settings(settings):
    point_stripe_at_nothing(settings)
    clear_client_cache()  # the SDK client is built once per process from these settings
    yield settings
    clear_client_cache()


@pytest.fixture
def stub(stripe_settings):
    """The Stripe stub, running, with the SDK pointed at it."""
    with stripe_stub() as running:
        stripe_settings.STRIPE_API_BASE = running.url
        yield running
