"""Authentication backends whose `get_user` reads the user through the cache.

Every authenticated API request resolves its session token to a user; with the user row cached in
Redis that costs one cache read instead of an ORM query. Django still checks the session's auth
hash against the cached password hash and the backend still refuses inactive users. Any save or
delete of a user drops the cached copy (see signals.py), and copies expire anyway after
`USER_CACHE_SECONDS`, the bound on staleness should a user row change outside the ORM.
"""

from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.conf import settings
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.core.cache import cache


def user_cache_key(user_id: Any) -> str:
    return f"auth:user:{user_id}"


def forget_user(user_id: Any) -> None:
    cache.delete(user_cache_key(user_id))


class CachedUserMixin:
    def get_user(self, user_id: Any):
        key = user_cache_key(user_id)
        user = cache.get(key)
        if user is None:
            user = super().get_user(user_id)  # type: ignore[misc]
            if user is not None:
                cache.set(key, user, settings.USER_CACHE_SECONDS)
            return user
        return user if self.user_can_authenticate(user) else None  # type: ignore[attr-defined]


class ModelBackend(CachedUserMixin, DjangoModelBackend):
    """Django's e-mail and password backend (admin login, sessions made by Django's login)."""


class AuthenticationBackend(CachedUserMixin, AllauthBackend):
    """allauth's backend (the API's login, signup and session tokens)."""
