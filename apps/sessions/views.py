from decimal import Decimal

from django.http import Http404, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control, set_response_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.openapi import BAD_FILTER, PAGE_NOT_FOUND, problems

from . import selectors, services
from .filters import SessionFilter
from .serializers import SeatMapEntrySerializer, SessionInputSerializer, SessionOutputSerializer


@extend_schema_view(
    list=extend_schema(
        summary="List sessions (filter by movie, room, cinema, date)",
        responses={
            200: SessionOutputSerializer,
            **problems(400, 404, s400=BAD_FILTER, s404=PAGE_NOT_FOUND),
        },
    ),
    retrieve=extend_schema(
        summary="Read a session", responses={200: SessionOutputSerializer, **problems(404)}
    ),
    create=extend_schema(
        summary="Schedule a session (staff)",
        request=SessionInputSerializer,
        responses={
            201: SessionOutputSerializer,
            **problems(
                400,
                401,
                403,
                s400="Invalid input; `too_few_seats` (room under 16 seats), `session_overlap` "
                "(room busy), `session_in_past`, `session_too_late` (from the year 9999).",
            ),
        },
    ),
)
class SessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = SessionOutputSerializer
    filterset_class = SessionFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.session_list()

    def create(self, request: Request) -> Response:
        data = SessionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        validated = data.validated_data
        session = services.session_create(
            movie=validated["movie"],
            room=validated["room"],
            starts_at=validated["starts_at"],
            price=Decimal(validated["price"]),
        )
        output = SessionOutputSerializer(selectors.session_list().get(pk=session.pk))
        return Response(output.data, status=status.HTTP_201_CREATED)

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
    @action(detail=True, methods=["get"], pagination_class=None, permission_classes=[AllowAny])
    def seats(self, request: Request, pk: str) -> HttpResponse:
        # Rendered once per change and served as bytes (the shape is documented by
        # SeatMapEntrySerializer): a thousand seats, read on every refresh of every buyer.
        body = selectors.seat_map_json(int(pk)) if pk.isascii() and pk.isdigit() else None
        if body is None:
            raise Http404
        response = HttpResponse(body, content_type="application/json")
        # Live data: a client may keep it, but asks again (with the ETag) before using it.
        set_response_etag(response)
        patch_cache_control(response, no_cache=True)
        return get_conditional_response(request, etag=response["ETag"], response=response)
