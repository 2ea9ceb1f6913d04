import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class IdempotencyKey(models.Model):
    """The stored outcome of a request sent with an `Idempotency-Key` header, per user.

    The row is inserted in the same transaction as the request's effect, so it exists if and only
    if that effect committed; a concurrent retry waits on the unique index and then replays it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True)
    # Stored as text, not jsonb, so that a replay is byte-for-byte the first response.
    response_body = models.TextField(blank=True, default="")
    content_type = models.CharField(max_length=64, default="application/json")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="core_idempotencykey_user_key"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class OutboxEvent(models.Model):
    """An event waiting to be published, written in the same transaction as the change it
    announces: it exists if and only if that change committed (transactional outbox)."""

    seq = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    # The id of the request that caused the event, carried as a message header for tracing.
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
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


class ProcessedEvent(models.Model):
    """That a consumer has applied an event: written in the same transaction as the effect, so
    an event delivered twice is applied once."""

    consumer = models.CharField(max_length=64)
    event_id = models.UUIDField()
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consumer", "event_id"], name="core_processedevent_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consumer}:{self.event_id}"
