from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.constraints import ConstraintErrorsAtFields


class IdempotencyKey(ConstraintErrorsAtFields, models.Model):
    """The stored outcome of a request sent with an `Idempotency-Key` header, per user.

    The row is inserted in the same transaction as the request's effect, so it exists if and only
    if that effect committed; a concurrent retry waits on the unique index and then replays it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    key = models.CharField(_("key"), max_length=255)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=255)
    fingerprint = models.CharField(
        _("fingerprint"), max_length=64, help_text=_("SHA-256 of method, path and body.")
    )
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True)
    # Stored as text, not jsonb, so that a replay is byte-for-byte the first response.
    response_body = models.TextField(_("response body"), blank=True, default="")
    content_type = models.CharField(_("content type"), max_length=64, default="application/json")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    constraint_fields = {
        "core_idempotencykey_user_key": "key",
    }

    class Meta:
        db_table = "core_idempotencykey"  # the table it had when it lived in the core app
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"],
                name="core_idempotencykey_user_key",
                violation_error_code="idempotency_key_taken",
                violation_error_message=_("This idempotency key was already used."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
