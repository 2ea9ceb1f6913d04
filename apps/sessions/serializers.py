from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.catalog.models import Movie
from apps.catalog.serializers import MovieSummarySerializer
from apps.rooms.models import Room
from apps.rooms.serializers import RoomSummarySerializer

from .models import Session


class SessionOutputSerializer(serializers.ModelSerializer):
    movie = MovieSummarySerializer(read_only=True)
    room = RoomSummarySerializer(read_only=True)

    class Meta:
        model = Session
        fields = ("id", "movie", "room", "starts_at", "ends_at", "price", "status")
        read_only_fields = fields


class SessionInputSerializer(serializers.Serializer):
    movie = serializers.PrimaryKeyRelatedField(queryset=Movie.objects.all())
    room = serializers.PrimaryKeyRelatedField(queryset=Room.objects.all())
    starts_at = serializers.DateTimeField()
    price = serializers.DecimalField(
        max_digits=8,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": _("The price must be greater than zero.")},
    )
