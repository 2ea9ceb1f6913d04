"""The seat stream's path on a WSGI instance: refused clearly (never a buffered endless answer),
and only GET is an operation of it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_wsgi_instance_refuses_the_stream_as_misdirected(api, session):
    response = api.get(f"/api/v1/sessions/{session.id}/seats/stream")
    assert response.status_code == 421
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "stream_server_only"


@pytest.mark.parametrize("method", ["post", "put", "delete", "trace"])
def test_only_get_is_allowed(api, session, method):
    response = getattr(api, method)(f"/api/v1/sessions/{session.id}/seats/stream")
    assert response.status_code == 405
