"""Production settings: the hardening (hardened.py) and a real payment provider."""

from django.core.exceptions import ImproperlyConfigured

from .hardened import *  # noqa: F403
from .hardened import env

# The sandbox provider approves any token and exposes its sandbox endpoints: never in production.
PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER", default="stripe")
if PAYMENT_PROVIDER != "stripe":
    raise ImproperlyConfigured(
        f"PAYMENT_PROVIDER={PAYMENT_PROVIDER!r}: production settings take a real provider "
        "(stripe); the sandbox provider runs with cinema.settings.demo or base only."
    )

# Holds chosen by hand (`?hold_seconds=`) are for trying the API, never for real buyers: a
# long hold would let anyone keep seats off sale.
TRY_FLOW_HOLD_SECONDS_MAX = env.int("TRY_FLOW_HOLD_SECONDS_MAX", default=0)
if TRY_FLOW_HOLD_SECONDS_MAX != 0:
    raise ImproperlyConfigured(
        f"TRY_FLOW_HOLD_SECONDS_MAX={TRY_FLOW_HOLD_SECONDS_MAX}: holds of a chosen length are "
        "for trying the API; production settings keep them off (0)."
    )
