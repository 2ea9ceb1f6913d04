from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from apps.core.problems import PROBLEM_CONTENT_TYPE, problem_json_response

# Where clients expect JSON whatever happens: the API and allauth's headless endpoints.
JSON_PATHS = ("/api/", "/_allauth/")


class JsonErrorsMiddleware:
    """Errors that Django or a library answer with an HTML page, or an empty body, become
    problem+json on the JSON paths: an unknown path (404), and a body that is not JSON, which
    allauth's headless views answer with an empty `text/html` 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(JSON_PATHS) or response.get("Content-Type", "").startswith(
            (PROBLEM_CONTENT_TYPE, "application/json")
        ):
            return response
        if response.status_code == 404:
            return problem_json_response(
                status=404, code="not_found", detail=_("Not found."), request=request
            )
        if response.status_code == 400:
            return problem_json_response(
                status=400,
                code="malformed_request",
                detail=_("The request body is not a JSON object this endpoint accepts."),
                request=request,
            )
        return response
