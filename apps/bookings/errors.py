from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError, Conflict
from apps.core.locking import Busy


class SeatsUnavailable(Conflict):
    code = "seats_unavailable"
    default_detail = _("Some of the seats are already taken.")

    def __init__(self, seat_ids: list[int]) -> None:
        super().__init__(extra={"unavailable_seats": sorted(set(seat_ids))})
        self.seat_ids = sorted(set(seat_ids))


class SessionOnSale(Conflict):
    code = "session_on_sale"
    default_detail = _(
        "Seats of this session have already been held or sold: it can only be cancelled now."
    )


class HalfPriceSoldOut(Conflict):
    code = "half_price_sold_out"
    default_detail = _("No half-price places are left for this session. Choose full price.")

    def __init__(self, *, left: int) -> None:
        super().__init__(extra={"half_price_left": left})


class SeatsBusy(Busy):
    """A lock wait ran out under heavy contention; the client may retry at once."""

    code = "seats_busy"
    default_detail = _("These seats are being reserved by someone else right now. Try again.")


class ReservationBusy(Busy):
    code = "reservation_busy"
    default_detail = _("This reservation is being changed by someone else right now. Try again.")


class ReservationNotPending(Conflict):
    code = "reservation_not_pending"
    default_detail = _("The reservation is no longer pending.")


class SessionNotOpen(ApplicationError):
    status = 400
    code = "session_not_open"
    default_detail = _("This session is not open for reservations.")


class ReservationAlreadyConfirmed(Conflict):
    code = "already_confirmed"
    default_detail = _("This reservation is already paid.")


class ReservationExpired(ApplicationError):
    status = 410
    code = "reservation_expired"
    default_detail = _("The reservation expired before the payment was confirmed.")
