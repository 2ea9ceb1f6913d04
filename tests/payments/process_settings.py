"""Settings of the processes a payments end-to-end test starts: the fault tests' settings (a task
queue of the test's own) plus e-mail written to files the test reads (`EMAIL_FILE_PATH`)."""

from tests.faults.settings import *  # noqa: F403
from tests.faults.settings import env

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default="/tmp/cinema-test-mail")
