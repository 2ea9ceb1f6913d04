"""The app's URLs plus two views for tests of the web server itself (tests/ops/probe_settings.py):
a request that stays in flight as long as a test wants, and what the app reads of the request
from the server."""

import time
from pathlib import Path

from django.http import HttpRequest, JsonResponse
from django.urls import path

from apps.ops.request_logging import client_address
from cinema.urls import handler400, handler500
from cinema.urls import urlpatterns as app_urlpatterns

__all__ = ["handler400", "handler500", "urlpatterns"]


def slow(request: HttpRequest) -> JsonResponse:
    """Writes the file `started` names, then answers after `seconds`."""
    Path(request.GET["started"]).write_text("started")
    seconds = float(request.GET["seconds"])
    time.sleep(seconds)
    return JsonResponse({"slept": seconds})


def echo(request: HttpRequest) -> JsonResponse:
    meta = request.META
    return JsonResponse(
        {
            "client_address": client_address(request),
            "remote_addr": meta["REMOTE_ADDR"],
            "x_forwarded_for": meta.get("HTTP_X_FORWARDED_FOR"),
            "url_scheme": meta["wsgi.url_scheme"],
            "is_secure": request.is_secure(),
            "host": request.get_host(),
            "server": [meta["SERVER_NAME"], meta["SERVER_PORT"]],
        }
    )


urlpatterns = [path("probe/slow", slow), path("probe/echo", echo), *app_urlpatterns]
