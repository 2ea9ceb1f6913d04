"""The reservation endpoints' rate limits: the API's defaults plus writes per user and per IP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import throttling

from apps.api.throttling import AnonRateThrottle, RateLimits, SettingsRateMixin, UserRateThrottle

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ReservationUserThrottle(SettingsRateMixin, throttling.UserRateThrottle):
    """Per user, on reservation and payment writes (`THROTTLE_RESERVATIONS`)."""

    scope = "reservations"
    writes_only = True


class ReservationIPThrottle(SettingsRateMixin, throttling.SimpleRateThrottle):
    """Per client IP, on reservation and payment writes (`THROTTLE_RESERVATIONS_IP`)."""

    scope = "reservations_ip"
    writes_only = True

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ReservationRateLimits(RateLimits):
    """Reservation, payment and cancellation: the default limits, plus writes per user
    (`THROTTLE_RESERVATIONS`) and per IP (`THROTTLE_RESERVATIONS_IP`)."""

    limits = (AnonRateThrottle, UserRateThrottle, ReservationUserThrottle, ReservationIPThrottle)


RESERVATION_THROTTLES = [ReservationRateLimits]
