from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from .problems import PROBLEM_CONTENT_TYPE, problem_json_response


class ApiNotFoundMiddleware:
    """Unknown paths under /api/ answer a problem+json 404, not Django's HTML page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith(
                (PROBLEM_CONTENT_TYPE, "application/json")
            )
        ):
            return problem_json_response(
                status=404, code="not_found", detail=_("Not found."), request=request
            )
        return response


class RequestIdHeaderMiddleware:
    """Return the request's id (taken from X-Request-ID or made) in the response, so a client
    can quote it and operators find every log line, task and event it caused."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        response = self.get_response(request)
        if request_id:
            response["X-Request-ID"] = request_id
        return response
