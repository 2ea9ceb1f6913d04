from rest_framework import serializers

from .models import Movie

TRANSLATION_FIELDS = ("title_pt_br", "title_en", "synopsis_pt_br", "synopsis_en")


class MovieOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Movie
        fields = ("id", "title", "synopsis", "duration_minutes", *TRANSLATION_FIELDS)
        read_only_fields = fields


class MovieInputSerializer(serializers.Serializer):
    """`title` and `synopsis` are stored in the request's language unless per-language values are
    given."""

    title = serializers.CharField(max_length=200)
    synopsis = serializers.CharField(required=False, allow_blank=True)
    duration_minutes = serializers.IntegerField(min_value=1, max_value=600)
    title_pt_br = serializers.CharField(max_length=200, required=False)
    title_en = serializers.CharField(max_length=200, required=False)
    synopsis_pt_br = serializers.CharField(required=False, allow_blank=True)
    synopsis_en = serializers.CharField(required=False, allow_blank=True)


class MovieSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Movie
        fields = ("id", "title")
        read_only_fields = fields
