from django.contrib import admin
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from . import selectors


class StaffAdminSite(admin.AdminSite):
    site_header = _("Cinema · staff")
    site_title = _("Cinema staff")
    index_title = _("Staff home")
    index_template = "admin/staff/index.html"
    # There is no public site to "view": the API docs are linked from the home page instead.
    site_url = None
    # The lists need the width: the breadcrumbs and the home page lead everywhere instead.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        return super().index(request, {**(extra_context or {}), **self.home(request)})

    def home(self, request) -> dict:
        """What the home page shows this person: only what their permissions let them see."""
        user = request.user
        now = timezone.now()
        context: dict = {"api_docs_url": reverse("api-docs")}
        if user.has_perm("screenings.view_session"):
            schedules = selectors.cinema_schedules(now=now)
            context["schedules"] = [
                {
                    "cinema": schedule.cinema,
                    "days": [
                        (_("Today"), [_row(f, today=True) for f in schedule.today]),
                        (_("Next"), [_row(f, today=False) for f in schedule.next]),
                    ],
                }
                for schedule in schedules
            ]
            context["show_revenue"] = user.has_perm("payments.view_sale")
            if user.has_perm("bookings.view_reservation"):
                context["held_soon"] = [
                    _row(f, today=False) for f in selectors.held_before_start(schedules, now=now)
                ]
        if user.has_perm("payments.view_payment"):
            context["flagged_payments"] = selectors.flagged_payment_count()
        if user.is_superuser:
            counts = selectors.dead_letters()
            context["dead_letters"] = {
                "reachable": counts is not None,
                "counts": {queue: n for queue, n in (counts or {}).items() if n},
            }
        return context


def _row(figures: selectors.SessionFigures, *, today: bool) -> dict:
    session = figures.session
    local = figures.local_start
    return {
        "figures": figures,
        # Formatted here: a template would show an aware time in the admin's zone, not the
        # cinema's.
        "time": formats.time_format(local) if today else formats.date_format(local, "D d/m H:i"),
        "url": reverse("admin:screenings_session_change", args=[session.pk]),
        "holds_url": reverse("admin:bookings_reservation_changelist")
        + f"?session__id__exact={session.pk}&status__exact=pending",
    }
