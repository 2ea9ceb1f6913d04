"""Operations: health checks, logging, request ids and the database bootstrap command."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "apps.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from . import thread_connections  # noqa: F401  (connects its receivers)
