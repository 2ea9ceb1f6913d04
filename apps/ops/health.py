"""Liveness and readiness probes.

`/health` says the process serves requests. `/health/ready` checks each dependency with a short
timeout and answers 503 naming the ones that are down, so a load balancer can take the instance out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from kombu import Connection

from apps.core.problems import problem_json_response
from apps.core.redis_connections import redis_client

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    client = redis_client(timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def check_broker() -> None:
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "rabbitmq": check_broker,
}


def run_checks() -> dict[str, str]:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready", whatever its type
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = "down"
        else:
            results[name] = "ok"
    return results


@require_GET
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    down = sorted(name for name, state in checks.items() if state != "ok")
    if down:
        return problem_json_response(
            status=503,
            code="dependency_unavailable",
            detail=_("Unavailable: %(names)s.") % {"names": ", ".join(down)},
            request=request,
            checks=checks,
        )
    return JsonResponse({"status": "ok", "checks": checks})
