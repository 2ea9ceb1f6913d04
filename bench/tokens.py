"""Session tokens for many users at once (the benchmark, the rush demo, the fuzzer)."""

from __future__ import annotations


def session_token_for(user) -> str:
    """An allauth app-client session token without a login round trip: the token is a Django
    session key carrying the auth keys (for fuzzing, benchmarks and demos with many users)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key
