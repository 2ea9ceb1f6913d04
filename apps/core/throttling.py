"""Rate limits from settings, read at request time so operators and tests can change them.

DRF's throttles copy their rates when the class is defined; these look them up on each request.
DRF also reads a client's request log, decides and writes it back in three steps, so a burst of
simultaneous requests all read the same log and overshoot the limit; here one Lua script counts
and records a request atomically in Redis. With Redis down requests pass (as the cache would).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError
from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings

if TYPE_CHECKING:  # DRF imports this module while building APIView
    from rest_framework.request import Request
    from rest_framework.views import APIView


logger = logging.getLogger(__name__)

# KEYS[1]: one client's request log, a sorted set of request times. ARGV: now, window (s), limit,
# a unique member. Drops the times out of the window, then counts and records in one step.
# Returns nothing when the request may pass, else the time of the oldest request in the window.
_HIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return false
"""


class SettingsRateMixin:
    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AtomicWindowMixin:
    """DRF's sliding window (at most N requests in any window), counted atomically in Redis."""

    _wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            client = get_redis_connection("default")
        except NotImplementedError:  # a cache that is not Redis: DRF's own (racy) counting
            return super().allow_request(request, view)
        now = self.timer()
        try:
            oldest = client.eval(
                _HIT,
                1,
                cache.make_key(self.key),
                repr(now),
                self.duration,
                self.num_requests,
                uuid.uuid4().hex,
            )
        except RedisError as exc:
            logger.warning("rate limit %s not applied, Redis unavailable: %s", self.scope, exc)
            return True
        if oldest is None:
            return True
        self._wait = max(self.duration - (now - float(oldest)), 0.001)
        return False

    def wait(self) -> float | None:
        return self._wait if self._wait is not None else super().wait()


class AnonRateThrottle(AtomicWindowMixin, SettingsRateMixin, throttling.AnonRateThrottle):
    """Per client IP, for anonymous requests."""


class UserRateThrottle(AtomicWindowMixin, SettingsRateMixin, throttling.UserRateThrottle):
    """Per user (per IP when anonymous), on everything."""


class _WritesOnly:
    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)  # type: ignore[misc]


class ReservationUserThrottle(
    _WritesOnly, AtomicWindowMixin, SettingsRateMixin, throttling.UserRateThrottle
):
    """Per user, on reservation and payment writes (`THROTTLE_RESERVATIONS`)."""

    scope = "reservations"


class ReservationIPThrottle(
    _WritesOnly, AtomicWindowMixin, SettingsRateMixin, throttling.SimpleRateThrottle
):
    """Per client IP, on reservation and payment writes (`THROTTLE_RESERVATIONS_IP`)."""

    scope = "reservations_ip"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
