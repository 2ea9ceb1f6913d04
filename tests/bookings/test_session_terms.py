"""A hold is made on the session's terms as they are when it commits.

The session a reservation names is read through a per-process cache for a moment (every request
of a rush names the same one); the transaction reads the row again with the seat locks.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.sessions.models import Session
from tests.factories import make_session
from tests.helpers import seat_ids

pytestmark = pytest.mark.django_db

URL = "/api/v1/reservations"


def test_a_session_cancelled_a_moment_ago_takes_no_more_holds(user_api, staff_api):
    session = make_session()
    first, second = seat_ids(session, 2)
    assert user_api.post(URL, {"session": session.id, "seats": [first]}).status_code == 201

    assert staff_api.post(f"/api/v1/sessions/{session.id}/cancel").status_code == 202
    response = user_api.post(URL, {"session": session.id, "seats": [second]})

    assert response.status_code == 400
    assert response.json()["code"] == "session_not_open"


def test_a_hold_is_priced_at_the_price_of_the_moment(user_api):
    session = make_session()
    first, second = seat_ids(session, 2)
    assert user_api.post(URL, {"session": session.id, "seats": [first]}).json()["total"] == str(
        session.price
    )

    Session.objects.filter(pk=session.pk).update(price=Decimal("31.50"))
    response = user_api.post(URL, {"session": session.id, "seats": [second]})

    assert response.status_code == 201
    assert response.json()["total"] == "31.50"
