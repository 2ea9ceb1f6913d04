"""Render every error of the API as RFC 9457 problem+json with a stable `code`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from apps.core.errors import ApplicationError
from apps.core.locking import Busy, is_lock_timeout
from apps.core.problems import problem_response

# DRF's own exception codes are already stable; this one reads better to clients.
_CODE_OVERRIDES = {"parse_error": "malformed_request"}


# DRF and Django name errors of the whole object differently; neither is a field.
NON_FIELD_KEYS = {"non_field_errors", "__all__"}


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {"message", "code"}


def _join(prefix: str | None, name: str | None) -> str | None:
    if prefix and name:
        return f"{prefix}.{name}"
    return prefix or name


def _flatten(details: Any, field: str | None = None) -> Iterator[dict[str, Any]]:
    """Turn DRF's nested error details into a flat list of {field, code, detail}."""
    if _is_message(details):
        yield {"field": field, "code": details["code"], "detail": str(details["message"])}
    elif isinstance(details, dict):
        for key, value in details.items():
            yield from _flatten(value, _join(field, None if key in NON_FIELD_KEYS else str(key)))
    elif isinstance(details, list):
        for index, item in enumerate(details):
            yield from _flatten(item, field if _is_message(item) else _join(field, str(index)))


def _validation_problem(exc: drf.ValidationError, request: Any) -> Response:
    errors = list(_flatten(exc.get_full_details()))
    detail = errors[0]["detail"] if len(errors) == 1 else _("The request contains invalid data.")
    return problem_response(
        status=400, code="invalid", detail=detail, request=request, errors=errors
    )


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if is_lock_timeout(exc):
        # A locking path without its own name for what was busy: still a retryable conflict.
        exc = Busy()
    if isinstance(exc, ApplicationError):
        return problem_response(
            status=exc.status,
            code=exc.code,
            detail=exc.detail,
            request=request,
            headers=exc.headers,
            **exc.extra,
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away under the request (restart, failover, a killed connection):
        # its transaction rolled back, so a retry is safe.
        return problem_response(
            status=503,
            code="database_unavailable",
            detail=_("The database is unavailable right now. Please try again."),
            request=request,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, IntegrityError):
        # Services map the constraints they know; any other violation is still the client's
        # conflict with existing data, never a server error.
        return problem_response(
            status=409,
            code="constraint_violated",
            detail=_("The request conflicts with existing data."),
            request=request,
        )
    if isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, drf.ValidationError):
        return _validation_problem(exc, request)
    if isinstance(exc, drf.APIException):
        headers: dict[str, str] = {}
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(math.ceil(exc.wait))
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            headers["WWW-Authenticate"] = "X-Session-Token"
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        return problem_response(
            status=exc.status_code,
            code=_CODE_OVERRIDES.get(code, code),
            detail=exc.detail,
            request=request,
            headers=headers,
        )
    return None
