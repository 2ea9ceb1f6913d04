"""Rate limits from settings, read at request time so operators and tests can change them.

DRF's throttles copy their rates when the class is defined; these look them up on each request.
DRF also reads a client's request log, decides and writes it back in three steps, so a burst of
simultaneous requests all read the same log and overshoot the limit; here one Lua script counts
and records a request atomically in Redis. A view's limits (per user, per IP, per scope) are
checked together in that one script, one round trip per request however many apply, and a
request refused by one of them is counted by none. With Redis down requests pass (as the cache
would).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, ClassVar

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

# KEYS: one request log per limit, each a sorted set of request times. ARGV: a unique member,
# then the window (s) and the limit of each key in turn. Times come from Redis's clock, one clock
# for every app instance, so requests racing from several hosts are ordered as Redis runs them.
# Drops the times out of each window; if any log is full, returns how long until its oldest
# request leaves the window (the longest such wait) and records nothing; otherwise records the
# request in every log.
_HIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local wait = nil
for i, key in ipairs(KEYS) do
  local window, limit = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
    local left = math.min(window, window - (now - oldest))
    if wait == nil or left > wait then wait = left end
  end
end
if wait ~= nil then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[2 * i])))
end
return false
"""


class SettingsRateMixin:
    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonRateThrottle(SettingsRateMixin, throttling.AnonRateThrottle):
    """Per client IP, for anonymous requests."""


class UserRateThrottle(SettingsRateMixin, throttling.UserRateThrottle):
    """Per user (per IP when anonymous), on everything."""


class RateLimits(throttling.BaseThrottle):
    """The limits of `limits` (throttle classes above: their scope, rate and key), checked and
    counted together, atomically, in one Redis call."""

    limits: ClassVar[tuple[type[throttling.SimpleRateThrottle], ...]]
    _wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            client = get_redis_connection("default")
        except NotImplementedError:  # a cache that is not Redis: DRF's own (racy) counting
            return self._allow_one_by_one(request, view)
        applying = self._applying(request, view)
        if not applying:
            return True
        args: list[object] = [uuid.uuid4().hex]
        for limit, _ in applying:
            args += [limit.duration, limit.num_requests]
        try:
            wait = client.eval(
                _HIT, len(applying), *(cache.make_key(key) for _, key in applying), *args
            )
        except RedisError as exc:
            scopes = ", ".join(limit.scope for limit, _ in applying)
            logger.warning("rate limits %s not applied, Redis unavailable: %s", scopes, exc)
            return True
        if wait is None:
            return True
        self._wait = max(float(wait), 0.001)
        return False

    def _applying(
        self, request: Request, view: APIView
    ) -> list[tuple[throttling.SimpleRateThrottle, str]]:
        """(limit, its request log's key) for each limit that counts this request."""
        applying = []
        for limit_class in self._counting(request):
            limit = limit_class()
            if limit.rate is None:
                continue
            key = limit.get_cache_key(request, view)
            if key is not None:
                applying.append((limit, key))
        return applying

    def _counting(self, request: Request) -> list[type[throttling.SimpleRateThrottle]]:
        """The limits this request counts against: those of `writes_only` skip reads."""
        read = request.method in SAFE_METHODS
        return [c for c in self.limits if not (read and getattr(c, "writes_only", False))]

    def _allow_one_by_one(self, request: Request, view: APIView) -> bool:
        waits = [
            limit.wait()
            for limit in (limit_class() for limit_class in self._counting(request))
            if not limit.allow_request(request, view)
        ]
        if not waits:
            return True
        self._wait = max((w for w in waits if w is not None), default=None)
        return False

    def wait(self) -> float | None:
        return self._wait


class DefaultRateLimits(RateLimits):
    """Every API view: per IP when anonymous (`THROTTLE_ANON`), per user (`THROTTLE_USER`)."""

    limits = (AnonRateThrottle, UserRateThrottle)
