"""Operations: health checks, logging, request ids and the database bootstrap command."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "apps.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from . import thread_connections  # noqa: F401  (connects its receivers)
