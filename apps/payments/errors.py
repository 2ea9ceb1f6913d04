from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError


class PaymentDeclined(ApplicationError):
    status = 402
    code = "payment_declined"
    default_detail = _("The payment was declined. The seats stay held until the deadline.")
