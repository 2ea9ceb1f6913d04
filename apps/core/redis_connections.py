"""Redis clients outside Django's cache: one place that knows whether Redis is one server
(`REDIS_URL`) or a master watched by Sentinels (`REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`).

With Sentinels, every client asks them for the current master when it connects, and connects
again after a failover (redis-py's Sentinel pools); the database number and password still come
from `REDIS_URL`. The cache (django-redis) is configured the same way in the settings.
"""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.connection import parse_url
from redis.sentinel import Sentinel


def _server_options() -> dict:
    """db, username and password of REDIS_URL (its host and port name the master's address
    only without Sentinels)."""
    parsed = parse_url(settings.REDIS_URL)
    return {key: parsed[key] for key in ("db", "username", "password") if key in parsed}


def _sentinel_kwargs(timeout: float) -> dict:
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout}


def redis_client(*, timeout: float) -> redis.Redis:
    """A client of the current master; `timeout` bounds connecting and every reply."""
    if settings.REDIS_SENTINELS:
        sentinel = Sentinel(settings.REDIS_SENTINELS, sentinel_kwargs=_sentinel_kwargs(timeout))
        return sentinel.master_for(
            settings.REDIS_SENTINEL_MASTER,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            **_server_options(),
        )
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )


def async_redis_client(*, timeout: float, connect_timeout: float) -> aioredis.Redis:
    """An asyncio client of the current master (the stream server's)."""
    if settings.REDIS_SENTINELS:
        sentinel = AsyncSentinel(
            settings.REDIS_SENTINELS, sentinel_kwargs=_sentinel_kwargs(connect_timeout)
        )
        return sentinel.master_for(
            settings.REDIS_SENTINEL_MASTER,
            socket_timeout=timeout,
            socket_connect_timeout=connect_timeout,
            **_server_options(),
        )
    return aioredis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=connect_timeout
    )
