from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.openapi import BAD_FILTER, PAGE_NOT_FOUND, problems
from apps.api.permissions import ModelPermissionsOrReadOnly
from apps.api.replica import CatalogueReplicaReadsMixin

from . import selectors, services
from .models import Cinema, Room
from .serializers import (
    CinemaSerializer,
    RoomDetailSerializer,
    RoomInputSerializer,
    RoomOutputSerializer,
    RoomRenameSerializer,
)


@extend_schema_view(
    list=extend_schema(
        summary="List cinemas",
        responses={
            200: CinemaSerializer,
            **problems(400, 404, s400=BAD_FILTER, s404=PAGE_NOT_FOUND),
        },
    ),
    retrieve=extend_schema(
        summary="Read a cinema", responses={200: CinemaSerializer, **problems(404)}
    ),
    create=extend_schema(
        summary="Create a cinema (catalogue managers)",
        responses={201: CinemaSerializer, **problems(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a cinema (catalogue managers)",
        responses={200: CinemaSerializer, **problems(400, 401, 403, 404)},
    ),
)
class CinemaViewSet(
    CatalogueReplicaReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CinemaSerializer
    permission_classes = [ModelPermissionsOrReadOnly]
    permission_model = Cinema
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["city"]

    def get_queryset(self):
        return selectors.cinema_list()

    def create(self, request: Request) -> Response:
        data = CinemaSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cinema = services.cinema_create(**data.validated_data)
        return Response(CinemaSerializer(cinema).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        data = CinemaSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        cinema = services.cinema_update(cinema=self.get_object(), data=data.validated_data)
        return Response(CinemaSerializer(cinema).data)


@extend_schema_view(
    list=extend_schema(
        summary="List rooms",
        responses={
            200: RoomOutputSerializer,
            **problems(400, 404, s400=BAD_FILTER, s404=PAGE_NOT_FOUND),
        },
    ),
    retrieve=extend_schema(
        summary="Read a room with its seat layout",
        responses={200: RoomDetailSerializer, **problems(404)},
    ),
    create=extend_schema(
        summary="Create a room and its seats (catalogue managers)",
        request=RoomInputSerializer,
        responses={201: RoomDetailSerializer, **problems(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Rename a room (catalogue managers)",
        request=RoomRenameSerializer,
        responses={200: RoomDetailSerializer, **problems(400, 401, 403, 404)},
    ),
)
class RoomViewSet(
    CatalogueReplicaReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [ModelPermissionsOrReadOnly]
    permission_model = Room  # its seats are made and kept with it
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["cinema"]

    def get_queryset(self):
        if self.action == "list":
            return selectors.room_list()
        return selectors.room_detail_queryset()

    def get_serializer_class(self):
        return RoomOutputSerializer if self.action == "list" else RoomDetailSerializer

    def _detail(self, pk: int) -> dict:
        return RoomDetailSerializer(selectors.room_detail_queryset().get(pk=pk)).data

    def create(self, request: Request) -> Response:
        data = RoomInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = services.room_create(**data.validated_data)
        return Response(self._detail(room.pk), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        data = RoomRenameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = services.room_rename(room=self.get_object(), **data.validated_data)
        return Response(self._detail(room.pk))
