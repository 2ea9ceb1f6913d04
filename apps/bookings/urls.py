from django.urls import path

from .stream_views import seat_map_stream
from .views import ReservationCreateView, ReservationDetailView, SeatMapView

urlpatterns = [
    path("reservations", ReservationCreateView.as_view(), name="reservation-create"),
    path(
        "reservations/<uuid:reservation_id>",
        ReservationDetailView.as_view(),
        name="reservation-detail",
    ),
    path("sessions/<int:id>/seats", SeatMapView.as_view(), name="session-seats"),
    # Served by the stream server (ASGI); nginx sends this path there.
    path("sessions/<int:id>/seats/stream", seat_map_stream, name="session-seats-stream"),
]
