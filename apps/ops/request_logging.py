"""The client address that log lines carry."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the rate limits count it: the socket peer, or the hop of
    X-Forwarded-For that `NUM_PROXIES` trusts."""
    return BaseThrottle().get_ident(request)
