"""RFC 9457 problem details: one place that builds the body and the response."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework.response import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_body(
    *, status: int, code: str, detail: Any, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": str(detail),
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(
    *,
    status: int,
    code: str,
    detail: Any,
    request: HttpRequest | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A DRF response carrying a problem document."""
    instance = request.path if request is not None else None
    body = problem_body(status=status, code=code, detail=detail, instance=instance, **extra)
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_json_response(
    *, status: int, code: str, detail: Any, request: HttpRequest | None = None, **extra: Any
) -> JsonResponse:
    """A plain Django response carrying a problem document, for code outside DRF views."""
    instance = request.path if request is not None else None
    body = problem_body(status=status, code=code, detail=detail, instance=instance, **extra)
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
