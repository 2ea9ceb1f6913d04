from __future__ import annotations

from typing import Any

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from allauth.headless.internal.sessionkit import authenticate_by_x_session_token
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from apps.accounts.token_cache import token_cache


class SessionTokenAuthentication(XSessionTokenAuthentication):
    """allauth's app-client session token, with a 401 for a missing or bad token, resolved
    through this process's token cache (apps.accounts.token_cache).

    allauth's class ignores an unknown token (the request goes on anonymous) and names no
    `WWW-Authenticate` challenge, so DRF would answer 403; clients need 401 for both cases.
    `request.auth` is None: no view reads the session behind the token.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        token = self.get_session_token(request)
        if not token:
            return None
        user = token_cache().resolve(token, authenticate_by_x_session_token)
        if user is None:
            raise AuthenticationFailed(_("Invalid or expired session token."))
        return (user, None)

    def authenticate_header(self, request: Request) -> str:
        return "X-Session-Token"
