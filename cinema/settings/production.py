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
