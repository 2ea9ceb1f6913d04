from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError, Conflict, NotFound
from apps.core.locking import Busy


class PaymentDeclined(ApplicationError):
    status = 402
    code = "payment_declined"
    default_detail = _("The payment was declined. The seats stay held until the deadline.")


class PaymentInProgress(Conflict):
    code = "payment_in_progress"
    default_detail = _("Another payment of this reservation is under way. Wait for its outcome.")

    def __init__(self, payment_id) -> None:
        super().__init__(extra={"payment": str(payment_id)})


class PaymentProviderError(ApplicationError):
    status = 502
    code = "payment_provider_error"
    # Not stored as the answer to an Idempotency-Key: a retry asks the provider again.
    retryable = True
    default_detail = _(
        "The payment provider answered with an error. Nothing was charged twice; try again."
    )


class PaymentProviderUnavailable(ApplicationError):
    status = 503
    code = "payment_provider_unavailable"
    retryable = True
    default_detail = _(
        "The payment provider could not be reached. If it took the payment, it will be "
        "completed or refunded automatically; try again in a moment."
    )

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "5"})


class SaleAlreadyRefunded(Conflict):
    code = "already_refunded"
    default_detail = _("This sale is already refunded.")


class RefundWindowClosed(Conflict):
    code = "refund_window_closed"
    default_detail = _("This sale can no longer be refunded.")


class SandboxNotPending(Conflict):
    code = "payment_not_pending"
    default_detail = _("Only a pending payment can be settled in the sandbox.")


class InvalidWebhookSignature(ApplicationError):
    status = 400
    code = "invalid_signature"
    default_detail = _("The webhook signature is missing, wrong or too old.")


class PaymentBusy(Busy):
    code = "payment_busy"
    default_detail = _("This payment is being updated right now. Try again.")


class SaleBusy(Busy):
    code = "sale_busy"
    default_detail = _("This sale is being changed by someone else right now. Try again.")


def _instant(moment: datetime) -> str:
    """An instant as the API writes every other one (ISO 8601 in the cinema's time zone)."""
    return timezone.localtime(moment).isoformat()


class TicketNotFound(NotFound):
    code = "ticket_not_found"
    default_detail = _("No ticket has this code.")


class TicketAlreadyUsed(Conflict):
    code = "ticket_already_used"
    default_detail = _("This ticket was already used.")

    def __init__(self, checked_in_at: datetime) -> None:
        super().__init__(
            _("This ticket was already used (at %(time)s).")
            % {"time": formats.time_format(timezone.localtime(checked_in_at), "TIME_FORMAT")},
            extra={"checked_in_at": _instant(checked_in_at)},
        )


class TicketVoid(Conflict):
    code = "ticket_void"
    default_detail = _("This ticket is void: it was refunded or its session was cancelled.")


class CheckinNotOpen(Conflict):
    code = "checkin_not_open"

    def __init__(self, *, opens_at: datetime, closes_at: datetime) -> None:
        super().__init__(
            _("Check-in for this session is open from %(opens)s until %(closes)s.")
            % {
                "opens": formats.date_format(timezone.localtime(opens_at), "DATETIME_FORMAT"),
                "closes": formats.date_format(timezone.localtime(closes_at), "DATETIME_FORMAT"),
            },
            extra={"opens_at": _instant(opens_at), "closes_at": _instant(closes_at)},
        )
