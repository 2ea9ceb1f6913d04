from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    # Not "Accounts": allauth's e-mail addresses have a section of that name.
    verbose_name = _("Users")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)
