import logging.config
import os

from celery import Celery
from celery.signals import setup_logging
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cinema.settings.base")

app = Celery("cinema")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Tasks log with the request id of the request that queued them.
app.steps["worker"].add(DjangoStructLogInitStep)

if os.environ.get("CINEMA_EVENT_CONSUMERS", "on") != "off":
    # The worker also runs the domain-event consumers (declared at start-up).
    from apps.events.consumer_step import EventConsumersStep

    app.steps["consumer"].add(EventConsumersStep)

    if os.environ.get("CINEMA_OUTBOX_RELAY", "on") != "off":
        # And publishes the outbox as rows commit (see apps/core/relay.py).
        from apps.events.relay_step import OutboxRelayStep

        app.steps["consumer"].add(OutboxRelayStep)


@setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """The worker logs exactly like the web processes (JSON or console, LOG_LEVEL)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
