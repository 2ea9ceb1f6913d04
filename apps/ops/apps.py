"""Operations: health checks, logging, request ids and the database bootstrap command."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "apps.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Modules that connect signal receivers.
        from . import request_logging, thread_connections  # noqa: F401
