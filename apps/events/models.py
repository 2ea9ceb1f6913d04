import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.constraints import ConstraintErrorsAtFields


class OutboxEvent(models.Model):
    """An event waiting to be published, written in the same transaction as the change it
    announces: it exists if and only if that change committed (transactional outbox)."""

    seq = models.BigAutoField(_("sequence"), primary_key=True)
    event_id = models.UUIDField(_("event id"), unique=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("type"), max_length=64)
    data = models.JSONField(_("data"), encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(_("occurred at"))
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    # The id of the request that caused the event, carried as a message header for tracing.
    request_id = models.CharField(_("request id"), max_length=64, blank=True, default="")

    class Meta:
        db_table = "core_outboxevent"  # the table it had when it lived in the core app
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        ordering = ["seq"]
        indexes = [
            models.Index(
                fields=["seq"],
                condition=models.Q(published_at__isnull=True),
                name="core_outbox_unpublished",
            ),
            models.Index(fields=["published_at"], name="core_outbox_published_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class ProcessedEvent(ConstraintErrorsAtFields, models.Model):
    """That a consumer has applied an event: written in the same transaction as the effect, so
    an event delivered twice is applied once."""

    consumer = models.CharField(_("consumer"), max_length=64)
    event_id = models.UUIDField(_("event id"))
    processed_at = models.DateTimeField(_("processed at"), auto_now_add=True)

    constraint_fields = {
        "core_processedevent_once": "event_id",
    }

    class Meta:
        db_table = "core_processedevent"
        verbose_name = _("processed event")
        verbose_name_plural = _("processed events")
        constraints = [
            models.UniqueConstraint(
                fields=["consumer", "event_id"],
                name="core_processedevent_once",
                violation_error_code="event_already_processed",
                violation_error_message=_("This consumer has already processed this event."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consumer}:{self.event_id}"
