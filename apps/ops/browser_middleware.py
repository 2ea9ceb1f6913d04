"""Django's cookie middleware, skipped on the token-authenticated paths.

The admin, allauth's browser flows and the API docs run on cookies: sessions, Django's user and
messages. The API (`/api/v1/`, its token in `X-Session-Token`), the health checks and the
metrics use none of them, and running them there cost a fifth of a cheap request's CPU. Each
class here is Django's own (a subclass, so the admin's checks and anything else that looks for
it still find it) that steps aside on those paths.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest

# Paths whose requests carry no cookie-based state: the token API, health checks, metrics.
TOKEN_PATHS = ("/api/v1/", "/health", "/metrics")


def is_token_path(request: HttpRequest) -> bool:
    return request.path_info.startswith(TOKEN_PATHS)


class PagesOnly:
    """Runs the middleware it is mixed into for every path but the token paths."""

    get_response: Any

    def __call__(self, request: HttpRequest) -> Any:
        if is_token_path(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(PagesOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(PagesOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(PagesOnly, messages.MessageMiddleware):
    pass
