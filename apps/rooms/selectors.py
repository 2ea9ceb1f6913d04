from django.db.models import Count, QuerySet

from .models import Cinema, Room, Seat, SeatCategory


def cinema_list() -> QuerySet[Cinema]:
    return Cinema.objects.order_by("id")


def room_list() -> QuerySet[Room]:
    return Room.objects.select_related("cinema").annotate(seat_count=Count("seats")).order_by("id")


def room_detail_queryset() -> QuerySet[Room]:
    return room_list().prefetch_related("seats")


def room_seats(room: Room) -> QuerySet[Seat]:
    return room.seats.order_by("row", "number")


def room_seat_count(room: Room) -> int:
    return room.seats.count()


def room_sellable_seat_count(room: Room) -> int:
    """Seats that can be sold: all but the blocked ones."""
    return room.seats.exclude(category=SeatCategory.BLOCKED).count()
