"""What every app needs and no app's vocabulary: the error hierarchy, problem+json, database and
lock helpers, admin bases. Its migrations made the tables that now belong to api and events."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"
