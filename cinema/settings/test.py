"""Test settings: the real services, generous limits, fast hashing."""

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ACCOUNT_RATE_LIMITS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Throttling has its own tests, which set their own rates; everything else must not trip it.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "anon": "100000/min",
        "user": "100000/min",
        "reservations": "100000/min",
        "reservations_ip": "100000/min",
    },
}

# Tasks queued by tests go to their own queue, never to a developer's running worker.
CELERY_TASK_DEFAULT_QUEUE = "cinema.test"
# Static files are not collected for tests; serving them is not under test.
MIDDLEWARE = [name for name in MIDDLEWARE if not name.startswith("whitenoise")]  # noqa: F405
# Event consumer queues of test runs never mix with a running system's (or another run's).
EVENT_QUEUE_PREFIX = env.str("EVENT_QUEUE_PREFIX", default="test.")  # noqa: F405
# Nor do their events: a running system's consumers never see a test's events.
EVENTS_EXCHANGE = f"{EVENT_QUEUE_PREFIX}cinema.events"
