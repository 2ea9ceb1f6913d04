"""The event runtime: the transactional outbox, its relay to RabbitMQ, the consumer runtime
and dead letters. It knows no domain."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "apps.events"
    label = "events"
    verbose_name = _("Events")
