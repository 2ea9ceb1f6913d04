from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ReadOnlyAdmin, SortedRelatedFilter, short_datetime

from .models import SessionStats


@admin.register(SessionStats)
class SessionStatsAdmin(ReadOnlyAdmin):
    """Kept by the statistics consumer; staff read it."""

    list_display = [
        "session",
        "seats_sold",
        "seats_held",
        "seats_available",
        "revenue",
        "updated",
    ]
    list_filter = [("session__room__cinema", SortedRelatedFilter), "session__starts_at"]
    search_fields = ["session__movie__title_pt_br", "session__movie__title_en"]
    list_select_related = ["session__movie", "session__room__cinema"]
    ordering = ["-updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(seat_total=Count("session__seats"))

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated(self, obj: SessionStats) -> str:
        return short_datetime(obj.updated_at)

    @admin.display(description=_("seats available"))
    def seats_available(self, obj: SessionStats) -> int:
        return obj.seat_total - obj.seats_sold - obj.seats_held
