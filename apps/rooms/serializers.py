from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from .layout import MAX_ROWS, MAX_SEATS_PER_ROW, ROW_PATTERN, SeatPosition, grid
from .models import Cinema, Room, Seat, SeatCategory


class CinemaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cinema
        fields = ("id", "name", "city")
        read_only_fields = ("id",)
        # Uniqueness is checked by the service (model validation), with one clear message.
        validators: list = []


@extend_schema_serializer(component_name="RoomSeat")
class SeatSerializer(serializers.ModelSerializer):
    """A seat of the room's layout. Not reservable by this id: each session of the room has its
    own seats (`SessionSeat`, `GET /api/v1/sessions/{id}/seats`), with their own ids."""

    id = serializers.IntegerField(
        read_only=True,
        help_text="Room-seat id (the layout). Reservations take session-seat ids instead.",
    )

    class Meta:
        model = Seat
        fields = ("id", "row", "number", "label", "category")
        read_only_fields = fields


class RoomOutputSerializer(serializers.ModelSerializer):
    cinema = CinemaSerializer(read_only=True)
    seat_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Room
        fields = ("id", "cinema", "name", "seat_count")
        read_only_fields = fields


class RoomDetailSerializer(RoomOutputSerializer):
    seats = SeatSerializer(many=True, read_only=True)

    class Meta(RoomOutputSerializer.Meta):
        fields = (*RoomOutputSerializer.Meta.fields, "seats")
        read_only_fields = fields


def _label_list(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=8),
        required=False,
        max_length=MAX_ROWS * MAX_SEATS_PER_ROW,
        help_text=help_text,
    )


class SeatPositionSerializer(serializers.Serializer):
    row = serializers.RegexField(
        ROW_PATTERN, max_length=3, error_messages={"invalid": _("Rows are 1 to 3 capital letters.")}
    )
    number = serializers.IntegerField(min_value=1, max_value=999)


class RoomInputSerializer(serializers.Serializer):
    """Either a grid (`rows` x `seats_per_row`, seats A1...) or an explicit list of `seats`."""

    cinema = serializers.PrimaryKeyRelatedField(queryset=Cinema.objects.all())
    name = serializers.CharField(max_length=120)
    rows = serializers.IntegerField(min_value=1, max_value=MAX_ROWS, required=False)
    seats_per_row = serializers.IntegerField(
        min_value=1, max_value=MAX_SEATS_PER_ROW, required=False
    )
    seats = SeatPositionSerializer(
        many=True, required=False, max_length=MAX_ROWS * MAX_SEATS_PER_ROW
    )
    blocked = _label_list(_("Seats out of sale: never reservable."))
    wheelchair = _label_list(_("Wheelchair spaces."))
    companion = _label_list(_("Companion seats, next to wheelchair spaces."))

    def _categories(self, attrs: dict) -> dict[str, str]:
        """{label: category} from the three label lists; a label in two lists is an error."""
        categories: dict[str, str] = {}
        for category in (SeatCategory.BLOCKED, SeatCategory.WHEELCHAIR, SeatCategory.COMPANION):
            for label in attrs.pop(category.value, []):
                if categories.get(label, category) != category:
                    raise serializers.ValidationError(
                        {
                            category.value: _("Seat %(label)s is in two category lists.")
                            % {"label": label}
                        },
                        code="conflicting_categories",
                    )
                categories[label] = category
        return categories

    def validate(self, attrs: dict) -> dict:
        attrs["categories"] = self._categories(attrs)
        has_grid = "rows" in attrs or "seats_per_row" in attrs
        if has_grid and "seats" in attrs:
            raise serializers.ValidationError(
                _("Give either rows and seats_per_row, or seats, not both."),
                code="ambiguous_layout",
            )
        if has_grid:
            if "rows" not in attrs or "seats_per_row" not in attrs:
                raise serializers.ValidationError(
                    _("rows and seats_per_row go together."), code="incomplete_layout"
                )
            attrs["positions"] = grid(attrs.pop("rows"), attrs.pop("seats_per_row"))
        elif "seats" in attrs:
            attrs["positions"] = [SeatPosition(s["row"], s["number"]) for s in attrs.pop("seats")]
        else:
            raise serializers.ValidationError(
                _("A room needs a layout: rows and seats_per_row, or seats."), code="no_layout"
            )
        return attrs


class RoomRenameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)


class RoomSummarySerializer(serializers.ModelSerializer):
    cinema = CinemaSerializer(read_only=True)

    class Meta:
        model = Room
        fields = ("id", "name", "cinema")
        read_only_fields = fields
