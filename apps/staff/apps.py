"""The staff's admin: the site with the product's name and the home page staff start from. It
reads across every app, so it sits on top of them all."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    default = True
    name = "apps.staff"
    label = "staff"
    verbose_name = _("Staff home")


class StaffAdminConfig(admin_apps.AdminConfig):
    """Django's admin, served by the staff site (INSTALLED_APPS names it instead of the admin)."""

    default = False
    default_site = "apps.staff.site.StaffAdminSite"
