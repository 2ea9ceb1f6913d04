"""The users behind session tokens, kept in each process: an API request resolves its token
without a round trip.

A token is an allauth app session (a Django session key), and resolving it reads the session and
then the user from Redis: two round trips on every authenticated request, a fifth of a cheap
request's CPU. Each process keeps what it resolved for at most `AUTH_TOKEN_CACHE_SECONDS` (and
never past the session's own expiry), and forgets a user's tokens the moment anything that could
change the answer commits anywhere: a login or logout of that user (sessions begin and end), a
save or delete of the user (password, active flag). Those are published on one Redis channel
that every process listens to.

A process keeps nothing while it is not listening (at start-up, while Redis is down, while it
reconnects): a message it could have missed can never leave it with a stale answer. A resolution
that was under way when a message arrived is not kept either (the generation check), since it
may have read the state from before the change.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CHANNEL = "cinema:auth:forget"
# Beyond this many tokens a process starts again from empty rather than grow without bound.
MAX_ENTRIES = 50_000
_RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0)
_ALL = b"*"


@dataclass(frozen=True)
class _Entry:
    user: bytes  # pickled: each request gets its own copy, as a cache read gives today
    user_id: str
    expires_at: float  # time.monotonic()


class TokenCache:
    """One per process (see `token_cache()`), with its listener thread."""

    def __init__(self, connect: Callable[[], Redis] | None = None) -> None:
        self._connect = connect or (lambda: get_redis_connection("default"))
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._listening = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="token-cache", daemon=True)
        self._thread.start()

    @property
    def listening(self) -> bool:
        return self._listening

    def resolve(self, token: str, load: Callable[[str], tuple[Any, Any] | None]) -> Any:
        """The user of `token` (or None), from this process's copy when it has a current one,
        else from `load(token)`, which returns (user, session) or None."""
        entry = self._entries.get(token)
        if entry is not None and self._listening and entry.expires_at > time.monotonic():
            return pickle.loads(entry.user)  # noqa: S301  (bytes this process pickled itself)
        generation = self._generation
        started = time.monotonic()
        result = load(token)
        if result is None:
            return None
        user, session = result
        lifetime = settings.AUTH_TOKEN_CACHE_SECONDS
        if session is not None:
            lifetime = min(lifetime, session.get_expiry_age())
        with self._lock:
            if self._listening and generation == self._generation and lifetime > 0:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[token] = _Entry(pickle.dumps(user), str(user.pk), started + lifetime)
        return user

    def forget(self, user_id: str | None) -> None:
        """Drop this process's tokens of one user (of every user when None)."""
        with self._lock:
            self._generation += 1
            if user_id is None:
                self._entries.clear()
                return
            for token in [t for t, e in self._entries.items() if e.user_id == user_id]:
                del self._entries[token]

    def stop(self) -> None:
        self._stopped.set()

    def _set_listening(self, listening: bool) -> None:
        with self._lock:
            self._listening = listening
            self._generation += 1
            self._entries.clear()

    def _listen(self) -> None:
        attempt = 0
        while not self._stopped.is_set():
            pubsub = None
            try:
                # A connection of its own from the cache's pool; it waits with a poll of its
                # own, so the pool's short socket timeout does not cut the wait.
                pubsub = self._connect().pubsub()
                pubsub.subscribe(CHANNEL)
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._set_listening(True)
                        attempt = 0
                    elif message["type"] == "message":
                        data = message["data"]
                        self.forget(None if data == _ALL else data.decode())
            except (RedisError, OSError) as exc:
                if self._listening:
                    logger.warning("token cache off until Redis is back: %s", exc)
            finally:
                self._set_listening(False)
                if pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        pubsub.close()
            self._stopped.wait(_RECONNECT_SECONDS[min(attempt, len(_RECONNECT_SECONDS) - 1)])
            attempt += 1


_cache: TokenCache | None = None
_cache_pid: int | None = None
_cache_lock = threading.Lock()


def token_cache() -> TokenCache:
    """This process's cache (a forked child starts its own: threads do not survive a fork)."""
    global _cache, _cache_pid
    if _cache is None or _cache_pid != os.getpid():
        with _cache_lock:
            if _cache is None or _cache_pid != os.getpid():
                _cache, _cache_pid = TokenCache(), os.getpid()
    return _cache


def _forget_here(user_id: Any) -> None:
    # Only where tokens are resolved: a worker saving a user starts no listener for nothing.
    if _cache is not None and _cache_pid == os.getpid():
        _cache.forget(str(user_id))


def forget_user_tokens(user_id: Any) -> None:
    """Every process drops its copies of this user's tokens once the current transaction
    commits (before it, a process could resolve the old row again and keep it); this one also
    drops them at once."""
    _forget_here(user_id)

    def publish() -> None:
        try:
            get_redis_connection("default").publish(CHANNEL, str(user_id))
        except RedisError as exc:
            # Most often Redis is down for the listeners too, and a process that is not
            # listening keeps nothing; otherwise copies live out AUTH_TOKEN_CACHE_SECONDS.
            _forget_here(user_id)
            logger.warning("could not publish the change of user %s: %s", user_id, exc)

    transaction.on_commit(publish)
