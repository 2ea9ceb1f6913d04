"""Rate limits from settings, read at request time so operators and tests can change them.

DRF's throttles copy their rates when the class is defined; these look them up on each request.
Counters live in the Redis cache; with Redis down the cache ignores errors and requests pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings

if TYPE_CHECKING:  # DRF imports this module while building APIView
    from rest_framework.request import Request
    from rest_framework.views import APIView


class SettingsRateMixin:
    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonRateThrottle(SettingsRateMixin, throttling.AnonRateThrottle):
    """Per client IP, for anonymous requests."""


class UserRateThrottle(SettingsRateMixin, throttling.UserRateThrottle):
    """Per user (per IP when anonymous), on everything."""


class _WritesOnly:
    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)  # type: ignore[misc]


class ReservationUserThrottle(_WritesOnly, SettingsRateMixin, throttling.UserRateThrottle):
    """Per user, on reservation and payment writes (`THROTTLE_RESERVATIONS`)."""

    scope = "reservations"


class ReservationIPThrottle(_WritesOnly, SettingsRateMixin, throttling.SimpleRateThrottle):
    """Per client IP, on reservation and payment writes (`THROTTLE_RESERVATIONS_IP`)."""

    scope = "reservations_ip"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
