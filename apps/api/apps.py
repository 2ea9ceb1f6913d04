"""The REST API's plumbing: authentication, permissions, errors as problem+json, OpenAPI,
idempotency and rate limits."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "apps.api"
    label = "api"
    verbose_name = _("API plumbing")
