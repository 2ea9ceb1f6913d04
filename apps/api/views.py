"""Django-level error views, so that even an unexpected failure answers problem+json."""

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

from apps.core.problems import problem_json_response


def server_error(request: HttpRequest) -> JsonResponse:
    return problem_json_response(
        status=500,
        code="server_error",
        detail=_("An unexpected error occurred. It has been logged."),
        request=request,
    )


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    return problem_json_response(
        status=400, code="bad_request", detail=_("Bad request."), request=request
    )
