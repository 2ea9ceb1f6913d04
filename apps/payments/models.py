import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.bookings.models import Reservation
from apps.sessions.models import Session, SessionSeat


def ticket_code() -> str:
    """128 random bits, URL-safe: unique in practice and impossible to guess."""
    return secrets.token_urlsafe(16)


class Payment(models.Model):
    """One attempt to charge the buyer through the payment gateway, approved or not."""

    class Status(models.TextChoices):
        APPROVED = "approved", _("approved")
        DECLINED = "declined", _("declined")
        REFUNDED = "refunded", _("refunded")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reservation = models.ForeignKey(Reservation, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    status = models.CharField(max_length=10, choices=Status.choices)
    provider = models.CharField(max_length=40)
    provider_reference = models.CharField(max_length=120, blank=True)
    decline_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class Sale(models.Model):
    """A paid reservation: what the buyer bought, for how much, and when."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reservation = models.OneToOneField(Reservation, on_delete=models.PROTECT, related_name="sale")
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="sale")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sales"
    )
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="sales")
    total = models.DecimalField(max_digits=10, decimal_places=2)
    paid_at = models.DateTimeField(_("paid at"), db_index=True)
    language = models.CharField(_("language"), max_length=10, default="pt-br")

    class Meta:
        verbose_name = _("sale")
        verbose_name_plural = _("sales")
        ordering = ["-paid_at"]
        indexes = [models.Index(fields=["user", "-paid_at"], name="payments_sale_user_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0), name="payments_sale_total_not_negative"
            )
        ]

    def __str__(self) -> str:
        return str(self.id)


class Ticket(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, related_name="tickets")
    # Invariant 2: at most one ticket per session seat, in PostgreSQL.
    session_seat = models.OneToOneField(
        SessionSeat, on_delete=models.PROTECT, related_name="ticket"
    )
    code = models.CharField(max_length=32, unique=True, default=ticket_code, editable=False)
    price = models.DecimalField(max_digits=8, decimal_places=2)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["session_seat_id"]

    def __str__(self) -> str:
        return self.code
