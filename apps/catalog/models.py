from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.constraints import ConstraintErrorsAtFields


class Movie(ConstraintErrorsAtFields, models.Model):
    """A film. `title` and `synopsis` are translated (see translation.py)."""

    title = models.CharField(_("title"), max_length=200)
    synopsis = models.TextField(_("synopsis"), blank=True, default="")
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    constraint_fields = {
        "catalog_movie_duration_range": "duration_minutes",
    }

    class Meta:
        verbose_name = _("movie")
        verbose_name_plural = _("movies")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gt=0) & models.Q(duration_minutes__lte=600),
                name="catalog_movie_duration_range",
                violation_error_code="duration_out_of_range",
                violation_error_message=_("A movie lasts from 1 to 600 minutes."),
            ),
        ]

    def __str__(self) -> str:
        return self.title
