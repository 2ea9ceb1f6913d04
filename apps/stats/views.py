from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.openapi import problems
from apps.api.permissions import requires
from apps.sessions.models import Session

from .selectors import session_figures


class SessionStatsSerializer(serializers.Serializer):
    session = serializers.IntegerField()
    seats_total = serializers.IntegerField()
    seats_sold = serializers.IntegerField()
    seats_held = serializers.IntegerField()
    seats_available = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=12, decimal_places=2)
    updated_at = serializers.DateTimeField(allow_null=True)


class SessionStatsView(APIView):
    permission_classes = [requires("stats.view_sessionstats")]

    @extend_schema(
        summary="Sales statistics of a session (box office), fed by the booking events",
        responses={200: SessionStatsSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = get_object_or_404(Session, pk=session_id)
        return Response(SessionStatsSerializer(session_figures(session)).data)
