from decimal import Decimal

from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.openapi import BAD_FILTER, PAGE_NOT_FOUND, problems
from apps.api.permissions import ModelPermissionsOrReadOnly
from apps.api.replica import CatalogueReplicaReadsMixin

from . import selectors, services
from .filters import SessionFilter
from .models import Session
from .serializers import SessionInputSerializer, SessionOutputSerializer


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
        summary="Schedule a session (catalogue managers)",
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
class SessionViewSet(
    CatalogueReplicaReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = SessionOutputSerializer
    filterset_class = SessionFilter
    permission_classes = [ModelPermissionsOrReadOnly]
    permission_model = Session
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
