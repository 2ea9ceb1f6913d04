"""allauth's session-token strategy, resolving a token with one session read."""

from __future__ import annotations

from allauth.headless.internal import sessionkit
from allauth.headless.tokens.strategies.sessions import SessionTokenStrategy as AllauthStrategy
from django.contrib.sessions.backends.base import SessionBase


class SessionTokenStrategy(AllauthStrategy):
    """allauth's strategy asks the session store whether the token exists, then loads it: two
    cache reads per request. Loading alone tells the same (a missing or expired session comes
    back without a key)."""

    def lookup_session(self, session_token: str) -> SessionBase | None:
        return sessionkit.lookup_session(session_token)
