from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.sessions.models import Session


class SessionStats(models.Model):
    """Running sales figures of a session, kept up to date by the statistics event consumer."""

    session = models.OneToOneField(
        Session,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="stats",
        verbose_name=_("session"),
    )
    seats_held = models.IntegerField(_("seats held"), default=0)
    seats_sold = models.IntegerField(_("seats sold"), default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=12, decimal_places=2, default=0)
    events_applied = models.PositiveIntegerField(_("events applied"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("session statistics")
        verbose_name_plural = _("session statistics")

    def __str__(self) -> str:
        return str(self.session)
