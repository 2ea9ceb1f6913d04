from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SessionsConfig(AppConfig):
    """Screenings. Labelled `screenings` so it never clashes with django.contrib.sessions."""

    name = "apps.sessions"
    label = "screenings"
    verbose_name = _("Sessions")
