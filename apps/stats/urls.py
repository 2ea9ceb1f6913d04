from django.urls import path

from .views import SessionStatsView

urlpatterns = [
    path("sessions/<int:session_id>/stats", SessionStatsView.as_view(), name="session-stats"),
]
