import django_filters

from .models import Session


class SessionFilter(django_filters.FilterSet):
    date = django_filters.DateFilter(
        field_name="starts_at", lookup_expr="date", help_text="Local date (YYYY-MM-DD)."
    )
    starts_after = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    cinema = django_filters.NumberFilter(field_name="room__cinema")

    class Meta:
        model = Session
        fields = ["movie", "room", "cinema", "status", "date", "starts_after", "starts_before"]
