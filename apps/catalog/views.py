from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.openapi import PAGE_NOT_FOUND, problems
from apps.api.permissions import ModelPermissionsOrReadOnly
from apps.api.replica import CatalogueReplicaReadsMixin

from . import selectors, services
from .models import Movie
from .serializers import MovieInputSerializer, MovieOutputSerializer


@extend_schema_view(
    list=extend_schema(
        summary="List movies",
        responses={200: MovieOutputSerializer, **problems(404, s404=PAGE_NOT_FOUND)},
    ),
    retrieve=extend_schema(
        summary="Read a movie", responses={200: MovieOutputSerializer, **problems(404)}
    ),
    create=extend_schema(
        summary="Create a movie (catalogue managers)",
        request=MovieInputSerializer,
        responses={201: MovieOutputSerializer, **problems(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a movie (catalogue managers)",
        request=MovieInputSerializer(partial=True),
        responses={200: MovieOutputSerializer, **problems(400, 401, 403, 404)},
    ),
    destroy=extend_schema(
        summary="Delete a movie without sessions (catalogue managers)",
        responses={204: None, **problems(401, 403, 404, 409)},
    ),
)
class MovieViewSet(
    CatalogueReplicaReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MovieOutputSerializer
    permission_classes = [ModelPermissionsOrReadOnly]
    permission_model = Movie
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.movie_list()

    def create(self, request: Request) -> Response:
        data = MovieInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movie = services.movie_create(data=data.validated_data)
        return Response(MovieOutputSerializer(movie).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        data = MovieInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        movie = services.movie_update(movie=self.get_object(), data=data.validated_data)
        return Response(MovieOutputSerializer(movie).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.movie_delete(movie=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
