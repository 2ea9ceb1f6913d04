import uuid

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.cache import patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.idempotency import HEADER, idempotent_external
from apps.api.openapi import IDEMPOTENCY_KEY_HEADER, PAGE_NOT_FOUND, problems
from apps.api.permissions import requires
from apps.bookings import selectors as booking_selectors
from apps.bookings import services as booking_services
from apps.bookings.throttling import RESERVATION_THROTTLES
from apps.core.errors import NotFound

from . import checkins, qr, refunds, selectors, services, webhooks
from .errors import PaymentDeclined, SandboxNotPending
from .lifecycle import PaymentStatus
from .models import Payment, Sale
from .providers import get_provider
from .providers.fake import FakeProvider, pix_copy_paste
from .serializers import (
    CheckinInputSerializer,
    CheckinSerializer,
    PaymentInputSerializer,
    PaymentSerializer,
    PendingPaymentSerializer,
    PurchaseSerializer,
    SaleSerializer,
    SandboxInputSerializer,
    SessionCancellationSerializer,
    sale_data,
)


def _answer(request: Request, payment: Payment) -> Response:
    """201 with the sale, 202 with what the buyer must do, or the contract's error."""
    if payment.status == PaymentStatus.FAILED:
        raise PaymentDeclined()
    if payment.status == PaymentStatus.PENDING:
        reservation = booking_selectors.owned_reservation(
            reservation_id=payment.reservation_id, user=request.user
        )
        # Pending, but the hold ended while the provider answered: it is being cancelled.
        booking_services.ensure_payable(reservation, timezone.now())
        body = PendingPaymentSerializer(
            {**vars(payment), "expires_at": reservation.expires_at}
        ).data
        response = Response(body, status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/payments/{payment.id}"
        return response
    sale = getattr(payment, "sale", None)
    if payment.status == PaymentStatus.SUCCEEDED and sale is not None:
        return Response(sale_data(sale), status=status.HTTP_201_CREATED)
    # Paid too late, cancelled or refunded: the reservation says why it cannot be bought.
    reservation = booking_selectors.owned_reservation(
        reservation_id=payment.reservation_id, user=request.user
    )
    services.raise_unpayable(reservation)


class PaymentView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = RESERVATION_THROTTLES

    @extend_schema(
        summary="Pay a pending reservation (owner)",
        description=(
            "Charges the reservation's total (computed by the server). Approved at once: 201 "
            "with the sale and one ticket per seat. Settles later (PIX, 3-D Secure): 202 with the "
            "pending payment, its `next_action` and a `Location`; the hold is extended once to "
            "`PAYMENT_PENDING_SECONDS`, and the sale appears when the provider's webhook says it "
            "was paid. A declined card leaves the hold as it was until its deadline."
        ),
        parameters=[IDEMPOTENCY_KEY_HEADER],
        request=PaymentInputSerializer,
        responses={
            201: SaleSerializer,
            202: PendingPaymentSerializer,
            **problems(
                400,
                401,
                402,
                404,
                409,
                410,
                422,
                429,
                502,
                503,
                s402="Declined (`payment_declined`); the hold stays until its deadline.",
                s409="`already_confirmed`, `reservation_not_pending` (cancelled), "
                "`payment_in_progress` (another attempt is pending) or `idempotency_key_in_use`.",
                s410="`reservation_expired`: the hold passed its deadline.",
                s502="`payment_provider_error`: the provider answered with an error.",
                s503="`payment_provider_unavailable`: the provider could not be reached; "
                "whatever it did is completed or refunded by reconciliation.",
            ),
        },
    )
    def post(self, request: Request, reservation_id: uuid.UUID) -> Response:
        data = PaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def pay() -> Response:
            payment = services.payment_start(
                reservation_id=reservation_id,
                user=request.user,
                token=data.validated_data["token"],
                idempotency_key=request.headers.get(HEADER),
            )
            return _answer(request, payment)

        return idempotent_external(request, pay)


class PaymentDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Where a payment is (owner, box office)",
        responses={200: PaymentSerializer, **problems(401, 404)},
    )
    def get(self, request: Request, payment_id: uuid.UUID) -> Response:
        payment = selectors.payment_for(payment_id=payment_id, user=request.user)
        return Response(PaymentSerializer(payment).data)


def _sandbox_payment(payment_id: uuid.UUID, user) -> Payment:
    # The sandbox exists only while the fake provider is the one in use.
    if not isinstance(get_provider(), FakeProvider):
        raise NotFound()
    payment = selectors.payment_for(payment_id=payment_id, user=user)
    if payment.provider != FakeProvider.name:
        raise NotFound()
    return payment


class SandboxView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = RESERVATION_THROTTLES

    @extend_schema(
        summary="Sandbox: pay or fail a pending payment (owner; sandbox provider only)",
        description=(
            "Does what the buyer's bank app (PIX) or 3-D Secure page would do. The sandbox "
            "provider then delivers its signed webhook to the app over HTTP, as a real provider "
            "would; `GET /api/v1/payments/{id}` shows the outcome moments later. 404 unless "
            "`PAYMENT_PROVIDER=fake`."
        ),
        request=SandboxInputSerializer,
        responses={
            202: OpenApiResponse(description="The provider will deliver its webhook."),
            **problems(400, 401, 404, 409, s409="`payment_not_pending`."),
        },
    )
    def post(self, request: Request, payment_id: uuid.UUID) -> Response:
        data = SandboxInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = _sandbox_payment(payment_id, request.user)
        settled = FakeProvider().settle(
            payment_id=payment.id, succeeded=data.validated_data["outcome"] == "succeeded"
        )
        if not settled:
            raise SandboxNotPending()
        return Response(status=status.HTTP_202_ACCEPTED)


class SandboxPixQrView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        summary="Sandbox: the PIX QR code of a pending payment (sandbox provider only)",
        responses={(200, "image/svg+xml"): OpenApiResponse(description="SVG"), **problems(404)},
    )
    def get(self, request: Request, payment_id: uuid.UUID) -> HttpResponse:
        if not isinstance(get_provider(), FakeProvider):
            raise NotFound()
        payment = get_object_or_404(Payment, pk=payment_id, provider=FakeProvider.name)
        if not payment.provider_reference:
            raise NotFound()
        code = pix_copy_paste(reference=payment.provider_reference, amount=payment.amount)
        return HttpResponse(qr.svg(code), content_type="image/svg+xml")


class WebhookView(APIView):
    """Providers post here. No session, no throttle: the signature is the credential."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []

    @extend_schema(
        summary="Payment provider webhooks (`fake`, `stripe`)",
        description=(
            "Checks the signature over the raw body (`Cinema-Signature: t=<unix>,v1=<hex "
            'HMAC-SHA256(PAYMENT_WEBHOOK_SECRET, "<t>.<body>")>` for the sandbox, accepted '
            "within 300 s; Stripe's own `Stripe-Signature`), stores the event once by its id and "
            "answers 200; a worker processes it. Duplicates and unknown payments are 200 too."
        ),
        request=None,
        responses={200: OpenApiResponse(description="Stored."), **problems(400, 404)},
    )
    def post(self, request: Request, provider: str) -> Response:
        created = webhooks.webhook_receive(
            provider_name=provider, body=request.body, headers=request.headers
        )
        return Response({"received": True, "duplicate": not created})


class SaleRefundView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = RESERVATION_THROTTLES

    @extend_schema(
        summary="Refund a sale (owner until the deadline, box office until the session starts)",
        description=(
            "The tickets become void and the seats go back on sale at once; the money goes back "
            "through the provider (retried until it succeeds). The buyer may refund until "
            "`REFUND_DEADLINE_MINUTES` before the session, staff until it starts."
        ),
        request=None,
        responses={
            200: SaleSerializer,
            **problems(
                401,
                404,
                409,
                s409="`already_refunded` or `refund_window_closed`.",
            ),
        },
    )
    def post(self, request: Request, sale_id: uuid.UUID) -> Response:
        refunds.sale_refund(sale_id=sale_id, user=request.user)
        return Response(SaleSerializer(selectors.sale_detail(sale_id)).data)


class SessionCancelView(APIView):
    permission_classes = [requires("screenings.cancel_session")]

    @extend_schema(
        summary="Cancel a session and refund every sale of it (catalogue managers)",
        description=(
            "New reservations and payments are refused at once; a worker refunds each sale in "
            "batches and e-mails each buyer. Calling it again resumes the refunds."
        ),
        request=None,
        responses={202: SessionCancellationSerializer, **problems(401, 403, 404)},
    )
    def post(self, request: Request, session_id: int) -> Response:
        left = refunds.session_cancel(session_id=session_id)
        body = {"session": session_id, "status": "cancelled", "sales_to_refund": left}
        return Response(SessionCancellationSerializer(body).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    summary="My purchases, newest first",
    responses={200: PurchaseSerializer(many=True), **problems(401, 404, s404=PAGE_NOT_FOUND)},
)
class MyPurchasesView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = PurchaseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the model
            return Sale.objects.none()
        return selectors.purchases_of(self.request.user)


@extend_schema(
    summary="A user's purchases (box office)",
    responses={
        200: PurchaseSerializer(many=True),
        **problems(401, 403, 404, s404="No such user, or no such page (`not_found`)."),
    },
)
class UserPurchasesView(generics.ListAPIView):
    permission_classes = [requires("payments.view_sale")]
    serializer_class = PurchaseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the model
            return Sale.objects.none()
        user = get_object_or_404(get_user_model(), pk=self.kwargs["user_id"])
        return selectors.purchases_of(user)


class CheckinView(APIView):
    permission_classes = [requires("payments.check_in_ticket")]

    @extend_schema(
        summary="Let a ticket in at the door (door staff)",
        description=(
            "Marks the ticket used, once: of two scanners reading one code at the same instant, "
            "exactly one gets 200. Open from `CHECKIN_OPENS_MINUTES` (60) before the start until "
            "the session ends."
        ),
        request=CheckinInputSerializer,
        responses={
            200: CheckinSerializer,
            **problems(
                400,
                401,
                403,
                404,
                409,
                s404="`ticket_not_found`: no ticket has this code.",
                s409="`ticket_already_used` (member `checked_in_at`), `ticket_void` (refunded, "
                "or the session was cancelled) or `checkin_not_open` (members `opens_at`, "
                "`closes_at`).",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = CheckinInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = checkins.ticket_check_in(code=data.validated_data["code"], by=request.user)
        body = {"ticket": ticket, "checked_in_at": ticket.checked_in_at}
        return Response(CheckinSerializer(body).data)


class TicketQrView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="A ticket's QR code (its owner, box office or door)",
        description="An SVG image that encodes the ticket's code, to show at the door.",
        responses={
            (200, "image/svg+xml"): OpenApiResponse(
                response=OpenApiTypes.STR, description="The QR code."
            ),
            **problems(401, 404),
        },
    )
    def get(self, request: Request, ticket_id: uuid.UUID) -> HttpResponse:
        ticket = selectors.ticket_for(ticket_id=ticket_id, user=request.user)
        response = HttpResponse(qr.svg(ticket.code, random_text=True), content_type="image/svg+xml")
        # The code is a credential: no shared cache may keep it.
        patch_cache_control(response, private=True, no_store=True)
        return response
