import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cinema.settings.base")

app = Celery("cinema")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if os.environ.get("CINEMA_EVENT_CONSUMERS", "on") != "off":
    # The worker also runs the domain-event consumers (declared at start-up).
    from apps.core.consumer_step import EventConsumersStep

    app.steps["consumer"].add(EventConsumersStep)
