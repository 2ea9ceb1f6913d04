from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.catalog.models import Movie
from apps.catalog.serializers import MovieSummarySerializer
from apps.rooms.models import Room
from apps.rooms.serializers import RoomSummarySerializer

from .models import Session


class PricesSerializer(serializers.Serializer):
    full = serializers.DecimalField(max_digits=8, decimal_places=2)
    half = serializers.DecimalField(
        max_digits=8, decimal_places=2, help_text="Half price (meia-entrada), rounded down."
    )


class SessionOutputSerializer(serializers.ModelSerializer):
    movie = MovieSummarySerializer(read_only=True)
    room = RoomSummarySerializer(read_only=True)
    prices = PricesSerializer(read_only=True, help_text="What each ticket type costs.")

    class Meta:
        model = Session
        fields = ("id", "movie", "room", "starts_at", "ends_at", "price", "prices", "status")
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
