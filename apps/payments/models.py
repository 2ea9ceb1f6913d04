import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.bookings.models import Reservation
from apps.core.constraints import ConstraintErrorsAtFields
from apps.sessions.models import Session, SessionSeat
from apps.sessions.pricing import TicketType

from .lifecycle import PaymentStatus

ONE_PAYMENT_IN_FLIGHT = "payments_one_payment_in_flight"
ONE_VALID_TICKET_PER_SEAT = "payments_one_valid_ticket_per_seat"


def ticket_code() -> str:
    """128 random bits, URL-safe: unique in practice and impossible to guess."""
    return secrets.token_urlsafe(16)


class Payment(ConstraintErrorsAtFields, models.Model):
    """One attempt to charge the buyer for a reservation, from before the provider is called until
    it settles, fails, is cancelled or refunded. Its status moves only along `lifecycle`."""

    Status = PaymentStatus

    class RefundReason(models.TextChoices):
        LATE = "late", _("paid after the hold ended")
        REQUESTED = "requested", _("requested")
        SESSION_CANCELLED = "session_cancelled", _("session cancelled")

    id = models.UUIDField(_("id"), primary_key=True, default=uuid.uuid4, editable=False)
    reservation = models.ForeignKey(
        Reservation, on_delete=models.PROTECT, related_name="+", verbose_name=_("reservation")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("user")
    )
    amount = models.DecimalField(_("amount"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="BRL")
    method = models.CharField(_("method"), max_length=10, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=PaymentStatus.CHOICES, default=PaymentStatus.PROCESSING
    )
    provider = models.CharField(_("provider"), max_length=40)
    # The key the provider deduplicates this attempt by: a retry never charges twice.
    idempotency_key = models.CharField(_("idempotency key"), max_length=80)
    provider_reference = models.CharField(_("provider reference"), max_length=120, blank=True)
    next_action = models.JSONField(_("next action"), null=True, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    # The buyer's language when they paid: the sale and its e-mails speak it, whenever it settles.
    language = models.CharField(_("language"), max_length=10, default="pt-br")
    refund_reason = models.CharField(
        _("refund reason"), max_length=20, choices=RefundReason.choices, blank=True
    )
    refund_requested_at = models.DateTimeField(_("refund requested at"), null=True, blank=True)
    refund_attempts = models.PositiveIntegerField(_("refund attempts"), default=0)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    # The API call to the provider failed (a 502/503): reconciliation finishes this attempt, and
    # meanwhile it no longer blocks a new one.
    call_failed_at = models.DateTimeField(_("provider call failed at"), null=True, blank=True)
    # Set when automation gave up (a refund the provider kept refusing): staff must look.
    needs_attention = models.BooleanField(_("needs attention"), default=False)
    attention_reason = models.CharField(_("why it needs attention"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    constraint_fields = {
        "payments_payment_status_valid": "status",
        "payments_payment_amount_not_negative": "amount",
        "payments_payment_idempotency_key": "idempotency_key",
        ONE_PAYMENT_IN_FLIGHT: "reservation",
    }

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]
        indexes = [
            # Reconciliation's scan: payments still waiting for the provider, oldest first.
            models.Index(
                fields=["updated_at"],
                condition=Q(status__in=PaymentStatus.IN_FLIGHT),
                name="payments_in_flight_by_age",
            ),
            models.Index(
                fields=["refund_requested_at"],
                condition=Q(status="succeeded", refund_requested_at__isnull=False),
                name="payments_refund_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.ALL),
                name="payments_payment_status_valid",
                violation_error_code="payment_status_invalid",
                violation_error_message=_("Choose a valid payment status."),
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="payments_payment_amount_not_negative",
                violation_error_code="amount_negative",
                violation_error_message=_("An amount cannot be negative."),
            ),
            models.UniqueConstraint(
                fields=["provider", "idempotency_key"],
                name="payments_payment_idempotency_key",
                violation_error_code="payment_idempotency_key_taken",
                violation_error_message=_(
                    "This provider already has a payment with this idempotency key."
                ),
            ),
            # One attempt in flight per reservation: a double click cannot start two charges.
            models.UniqueConstraint(
                fields=["reservation"],
                condition=Q(status__in=PaymentStatus.IN_FLIGHT, call_failed_at__isnull=True),
                name=ONE_PAYMENT_IN_FLIGHT,
                violation_error_code="payment_in_progress",
                violation_error_message=_("A payment of this reservation is already in progress."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class WebhookEvent(ConstraintErrorsAtFields, models.Model):
    """A provider's webhook as received, stored before it is answered and processed once."""

    provider = models.CharField(_("provider"), max_length=40)
    event_id = models.CharField(_("event id"), max_length=120)
    type = models.CharField(_("type"), max_length=60)
    payment_id = models.UUIDField(_("payment"), null=True, blank=True)
    reference = models.CharField(_("provider reference"), max_length=120, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=60, blank=True)

    constraint_fields = {
        "payments_webhook_event_once": "event_id",
    }

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"],
                name="payments_webhook_event_once",
                violation_error_code="webhook_event_duplicate",
                violation_error_message=_("This event of the provider was already received."),
            )
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(processed_at__isnull=True),
                name="payments_webhook_unprocessed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id}"


class FakeProviderPayment(models.Model):
    """The fake provider's own ledger: what a real provider keeps on its side. The app never
    reads it; only `providers.fake` does, through the same boundary as any provider."""

    reference = models.CharField(_("reference"), primary_key=True, max_length=40)
    idempotency_key = models.CharField(_("idempotency key"), max_length=80, unique=True)
    payment_id = models.UUIDField(_("payment"))
    amount = models.DecimalField(_("amount"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    method = models.CharField(_("method"), max_length=10)
    status = models.CharField(_("status"), max_length=10)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    refund_key = models.CharField(_("refund key"), max_length=80, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox provider payment")
        verbose_name_plural = _("sandbox provider payments")

    def __str__(self) -> str:
        return self.reference


class Sale(ConstraintErrorsAtFields, models.Model):
    """A paid reservation: what the buyer bought, for how much, and when."""

    class Status(models.TextChoices):
        PAID = "paid", _("paid")
        REFUNDED = "refunded", _("refunded")

    id = models.UUIDField(_("id"), primary_key=True, default=uuid.uuid4, editable=False)
    reservation = models.OneToOneField(
        Reservation, on_delete=models.PROTECT, related_name="sale", verbose_name=_("reservation")
    )
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, related_name="sale", verbose_name=_("payment")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="sales",
        verbose_name=_("user"),
    )
    session = models.ForeignKey(
        Session, on_delete=models.PROTECT, related_name="sales", verbose_name=_("session")
    )
    total = models.DecimalField(_("total"), max_digits=10, decimal_places=2)
    paid_at = models.DateTimeField(_("paid at"), db_index=True)
    language = models.CharField(_("language"), max_length=10, default="pt-br")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PAID
    )
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    constraint_fields = {
        "payments_sale_total_not_negative": "total",
        "payments_sale_refunded_at_matches_status": "refunded_at",
    }

    class Meta:
        verbose_name = _("sale")
        verbose_name_plural = _("sales")
        ordering = ["-paid_at"]
        permissions = [("refund_sale", _("Can refund any buyer's sale"))]
        indexes = [models.Index(fields=["user", "-paid_at"], name="payments_sale_user_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0),
                name="payments_sale_total_not_negative",
                violation_error_code="total_negative",
                violation_error_message=_("A total cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(status="paid", refunded_at__isnull=True)
                | Q(status="refunded", refunded_at__isnull=False),
                name="payments_sale_refunded_at_matches_status",
                violation_error_code="sale_refund_time_mismatch",
                violation_error_message=_(
                    "A refunded sale, and only a refunded one, has a refund time."
                ),
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


class Ticket(ConstraintErrorsAtFields, models.Model):
    id = models.UUIDField(_("id"), primary_key=True, default=uuid.uuid4, editable=False)
    sale = models.ForeignKey(
        Sale, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("sale")
    )
    session_seat = models.ForeignKey(
        SessionSeat, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("seat")
    )
    code = models.CharField(
        _("code"), max_length=32, unique=True, default=ticket_code, editable=False
    )
    ticket_type = models.CharField(
        _("ticket type"), max_length=4, choices=TicketType.choices, default=TicketType.FULL
    )
    price = models.DecimalField(_("price"), max_digits=8, decimal_places=2)
    # A refunded sale's tickets are void: they stay on record but let nobody in, and the seat
    # can be sold again.
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    # Set once, at the door, by one conditional UPDATE: a second scan finds it set.
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked in by"),
    )

    constraint_fields = {
        "payments_ticket_type_valid": "ticket_type",
        "payments_ticket_checked_in_by_needs_time": "checked_in_at",
        ONE_VALID_TICKET_PER_SEAT: "session_seat",
    }

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["session_seat_id"]
        permissions = [("check_in_ticket", _("Can check in tickets at the door"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket_type__in=TicketType.values),
                name="payments_ticket_type_valid",
                violation_error_code="ticket_type_invalid",
                violation_error_message=_("Choose a valid ticket type."),
            ),
            models.CheckConstraint(
                condition=Q(checked_in_by__isnull=True) | Q(checked_in_at__isnull=False),
                name="payments_ticket_checked_in_by_needs_time",
                violation_error_code="checkin_time_missing",
                violation_error_message=_(
                    "A ticket checked in by someone needs the time it was checked in."
                ),
            ),
            # Invariant 2: at most one valid ticket per session seat, in PostgreSQL.
            models.UniqueConstraint(
                fields=["session_seat"],
                condition=Q(voided_at__isnull=True),
                name=ONE_VALID_TICKET_PER_SEAT,
                violation_error_code="seat_already_ticketed",
                violation_error_message=_("This seat already has a valid ticket."),
            ),
        ]

    def __str__(self) -> str:
        return self.code
