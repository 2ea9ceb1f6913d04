import uuid

from django.http import Http404, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.idempotency import idempotent
from apps.api.openapi import IDEMPOTENCY_KEY_HEADER, problems

from . import seat_map, selectors, services
from .openapi import RESERVATION_EXAMPLES
from .serializers import (
    ReservationInputSerializer,
    ReservationOutputSerializer,
    ReservationQuerySerializer,
    SeatMapEntrySerializer,
    reservation_data,
    reservation_input,
)
from .throttling import RESERVATION_THROTTLES


def _output(reservation_id: uuid.UUID, user) -> dict:
    reservation = selectors.reservation_for(reservation_id=reservation_id, user=user)
    return reservation_data(reservation)


class ReservationCreateView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = RESERVATION_THROTTLES

    @extend_schema(
        summary="Hold seats of a session",
        description=(
            "Holds all the seats or none until `expires_at` (30 s by default; trying the flow by "
            "hand, see `hold_seconds`). Losers of a race "
            "get 409 `seats_unavailable` listing the taken seat ids in `unavailable_seats`. "
            "Send `seats` (all full price) or `tickets` with a type per seat: at most "
            "`HALF_PRICE_SHARE` (40 %) of a session's seats are held or sold as half price at "
            "once. Each seat's type and price are fixed when it is held."
        ),
        parameters=[IDEMPOTENCY_KEY_HEADER, ReservationQuerySerializer],
        request=ReservationInputSerializer,
        examples=RESERVATION_EXAMPLES,
        responses={
            201: ReservationOutputSerializer,
            **problems(
                400,
                401,
                404,
                409,
                422,
                429,
                s400="Invalid input: `invalid` (e.g. both `seats` and `tickets`), "
                "`duplicate_seats`, `too_many_seats`, `invalid_seats` (not of this session), "
                "`session_not_open`, `hold_seconds_not_allowed`, `hold_seconds_out_of_range`.",
                s409="`seats_unavailable` (member `unavailable_seats`; also for a blocked seat), "
                "`half_price_sold_out` (member `half_price_left`), `seats_busy` or "
                "`idempotency_key_in_use` (both with `Retry-After`).",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        validated = reservation_input(request.data)
        if validated is None:  # anything but a plainly well-formed request: the serializer's say
            data = ReservationInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            validated = data.validated_data
        hold_seconds = None
        if request.query_params:  # rare: only people trying the flow by hand send it
            query = ReservationQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            hold_seconds = query.validated_data.get("hold_seconds")

        def reserve() -> Response:
            reservation = services.reservation_create(
                user=request.user,
                session_id=validated["session"],
                seat_ids=validated["seats"],
                half_price=validated["half_price"],
                hold_seconds=hold_seconds,
            )
            body = reservation_data(reservation)
            return Response(
                body,
                status=status.HTTP_201_CREATED,
                headers={"Location": f"/api/v1/reservations/{reservation.id}"},
            )

        return idempotent(request, reserve)


class ReservationDetailView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = RESERVATION_THROTTLES

    @extend_schema(
        summary="Read a reservation (owner or staff)",
        responses={200: ReservationOutputSerializer, **problems(401, 404)},
    )
    def get(self, request: Request, reservation_id: uuid.UUID) -> Response:
        return Response(_output(reservation_id, request.user))

    @extend_schema(
        summary="Cancel a pending reservation (owner); its seats are free at once",
        responses={
            204: None,
            **problems(
                401, 404, 409, s409="`reservation_not_pending`: paid, cancelled or expired."
            ),
        },
    )
    def delete(self, request: Request, reservation_id: uuid.UUID) -> Response:
        services.reservation_cancel(reservation_id=reservation_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SeatMapView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Seat map of a session, live (one unpaginated list)",
        description=(
            "Carries an `ETag`: a client that polls sends it back in `If-None-Match` and gets an "
            "empty 304 until a seat changes or a hold runs out."
        ),
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The `ETag` of the map the client has.",
            )
        ],
        responses={
            200: SeatMapEntrySerializer(many=True),
            304: OpenApiResponse(description="Not modified: the client's map is current."),
            **problems(404),
        },
    )
    def get(self, request: Request, id: int) -> HttpResponse:  # the path names it as sessions do
        # Rendered once per change and served as bytes (the shape is documented by
        # SeatMapEntrySerializer): a thousand seats, read on every refresh of every buyer.
        rendered = seat_map.rendered_seat_map(id)
        if rendered is None:
            raise Http404
        response = HttpResponse(rendered.body, content_type="application/json")
        # Live data: a client may keep it, but asks again (with the ETag) before using it.
        response["ETag"] = rendered.etag
        patch_cache_control(response, no_cache=True)
        return get_conditional_response(request, etag=rendered.etag, response=response)
