"""What every request's log lines carry besides django-structlog's request id."""

from __future__ import annotations

from typing import Any

import structlog
from django.dispatch import receiver
from django.http import HttpRequest
from django_structlog.signals import bind_extra_request_metadata
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the rate limits count it: the socket peer, or the hop of
    X-Forwarded-For that `NUM_PROXIES` trusts."""
    return BaseThrottle().get_ident(request)


@receiver(bind_extra_request_metadata)
def bind_client_address(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    # Instead of django-structlog's own IP lookup (python-ipware), which cost a tenth of a
    # cached seat-map read and trusts forwarded headers that the rate limits do not.
    structlog.contextvars.bind_contextvars(ip=client_address(request))
