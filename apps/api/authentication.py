from __future__ import annotations

from typing import Any

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request


class SessionTokenAuthentication(XSessionTokenAuthentication):
    """allauth's app-client session token, with a 401 for a missing or bad token.

    allauth's class ignores an unknown token (the request goes on anonymous) and names no
    `WWW-Authenticate` challenge, so DRF would answer 403; clients need 401 for both cases.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        token = self.get_session_token(request)
        if not token:
            return None
        result = super().authenticate(request)
        if result is None:
            raise AuthenticationFailed(_("Invalid or expired session token."))
        return result

    def authenticate_header(self, request: Request) -> str:
        return "X-Session-Token"
