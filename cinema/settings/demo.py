"""What `docker compose up` runs on a developer's machine: production's hardening (hardened.py),
with the sandbox payment provider, so the whole stack can be tried without a provider account."""

from .hardened import *  # noqa: F403

PAYMENT_PROVIDER = "fake"
