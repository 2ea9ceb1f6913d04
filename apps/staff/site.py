from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class StaffAdminSite(admin.AdminSite):
    site_header = _("Cinema · staff")
    site_title = _("Cinema staff")
    index_title = _("Staff home")
    # There is no public site to "view": the API docs are linked from the home page instead.
    site_url = None
