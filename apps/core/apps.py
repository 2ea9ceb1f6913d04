"""What every app needs and no app's vocabulary: the error hierarchy, problem+json, database and
lock helpers, admin bases. Its migrations made the tables that now belong to api and events."""

from django.apps import AppConfig
from django.core.signals import request_started
from django.utils.translation import gettext_lazy as _

from .db_router import forget_writes, replica_configured


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        if replica_configured():
            # Read-your-writes is per request: a thread serves many, one after the other.
            request_started.connect(forget_writes, dispatch_uid="replica-forget-writes")
