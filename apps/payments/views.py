import uuid

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.bookings.views import RESERVATION_THROTTLES
from apps.core.idempotency import HEADER, idempotent
from apps.core.openapi import IDEMPOTENCY_KEY_HEADER, PAGE_NOT_FOUND, problems

from . import selectors, services
from .models import Sale
from .serializers import PaymentInputSerializer, PurchaseSerializer, SaleSerializer


class PaymentView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = RESERVATION_THROTTLES

    @extend_schema(
        summary="Pay a pending reservation and get its tickets (owner)",
        description=(
            "Charges the reservation's total (computed by the server) and turns the hold into a "
            "sale with one ticket per seat. A declined card (test token `tok_declined`) leaves "
            "the hold as it was until its deadline."
        ),
        parameters=[IDEMPOTENCY_KEY_HEADER],
        request=PaymentInputSerializer,
        responses={
            201: SaleSerializer,
            **problems(
                400,
                401,
                402,
                404,
                409,
                410,
                422,
                429,
                s409="`already_confirmed`, `reservation_not_pending` (cancelled) or "
                "`idempotency_key_in_use`.",
                s410="`reservation_expired`: the hold passed its deadline.",
            ),
        },
    )
    def post(self, request: Request, reservation_id: uuid.UUID) -> Response:
        data = PaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def pay() -> Response:
            sale = services.payment_confirm(
                reservation_id=reservation_id,
                user=request.user,
                token=data.validated_data["token"],
                idempotency_key=request.headers.get(HEADER),
            )
            body = SaleSerializer(sale).data  # comes with its tickets (see payment_confirm)
            return Response(body, status=status.HTTP_201_CREATED)

        return idempotent(request, pay)


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
    summary="A user's purchases (staff)",
    responses={
        200: PurchaseSerializer(many=True),
        **problems(401, 403, 404, s404="No such user, or no such page (`not_found`)."),
    },
)
class UserPurchasesView(generics.ListAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = PurchaseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the model
            return Sale.objects.none()
        user = get_object_or_404(get_user_model(), pk=self.kwargs["user_id"])
        return selectors.purchases_of(user)
