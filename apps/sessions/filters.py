from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from .models import Session


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, normalised to UTC.

    Python accepts UTC offsets up to +-23:59, PostgreSQL only up to +-15:59: passed on as given,
    `2030-01-01T00:00-22:00` made the query fail with a 500. In UTC, every value fits; one that
    falls outside the years 1-9999 once converted is an invalid value (400).
    """

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class SessionFilter(django_filters.FilterSet):
    date = django_filters.DateFilter(
        field_name="starts_at", lookup_expr="date", help_text="Local date (YYYY-MM-DD)."
    )
    starts_after = UTCIsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = UTCIsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    cinema = django_filters.NumberFilter(field_name="room__cinema")

    class Meta:
        model = Session
        fields = ["movie", "room", "cinema", "status", "date", "starts_after", "starts_before"]
