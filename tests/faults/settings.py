"""Settings of the processes a fault test starts: the test settings, plus a task queue of the
test's own (`CELERY_TASK_DEFAULT_QUEUE` from the environment), so that the expiry tasks a worker
queues are consumed by that worker alone, never by another run's worker on the
shared RabbitMQ."""

from cinema.settings.test import *  # noqa: F403
from cinema.settings.test import CELERY_TASK_DEFAULT_QUEUE, env

CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default=CELERY_TASK_DEFAULT_QUEUE)
