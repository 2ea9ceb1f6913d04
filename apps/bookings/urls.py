from django.urls import path

from .views import ReservationCreateView, ReservationDetailView, SeatMapView

urlpatterns = [
    path("reservations", ReservationCreateView.as_view(), name="reservation-create"),
    path(
        "reservations/<uuid:reservation_id>",
        ReservationDetailView.as_view(),
        name="reservation-detail",
    ),
    path("sessions/<int:id>/seats", SeatMapView.as_view(), name="session-seats"),
]
