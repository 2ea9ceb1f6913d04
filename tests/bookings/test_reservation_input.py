"""The reservation input's fast path must agree with the documented serializer: whatever it
accepts, the serializer accepts with the same validated data; what it declines goes to the
serializer, so errors are the serializer's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.bookings.serializers import ReservationInputSerializer, reservation_input

scalars = st.one_of(
    st.integers(min_value=-3, max_value=2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["12", "full", "half", "", "FULL", "1.0"]),
)
tickets = st.dictionaries(st.sampled_from(["seat", "type", "other"]), scalars, max_size=3)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.lists(st.one_of(tickets, scalars), max_size=4),
    st.lists(st.integers(min_value=1, max_value=9), min_size=99, max_size=102),
)
requests = st.one_of(
    st.dictionaries(st.sampled_from(["session", "seats", "tickets", "other"]), values, max_size=4),
    st.lists(scalars, max_size=2),
    scalars,
)
# Near the well-formed: one key or value off (0, a bool, "1", a missing or extra key...).
small = st.one_of(st.integers(min_value=-1, max_value=3), scalars)
valid = st.integers(min_value=1, max_value=3)
near_ticket = st.fixed_dictionaries(
    {"seat": st.one_of(valid, small)},
    optional={"type": st.sampled_from(["full", "half", "FULL", None, 1, True]), "other": small},
)
near = st.one_of(
    st.builds(
        lambda session, seats: {"session": session, "seats": seats},
        st.one_of(valid, small),
        st.lists(st.one_of(valid, small), max_size=3),
    ),
    st.builds(
        lambda session, chosen: {"session": session, "tickets": chosen},
        st.one_of(valid, small),
        st.lists(st.one_of(near_ticket, small), max_size=3),
    ),
    st.fixed_dictionaries(
        {"session": st.one_of(valid, small)},
        optional={
            "seats": st.lists(st.one_of(valid, small), max_size=3),
            "tickets": st.lists(st.one_of(near_ticket, small), max_size=3),
            "other": small,
        },
    ),
)
well_formed = st.fixed_dictionaries(
    {"session": st.integers(min_value=1, max_value=2**40)},
).flatmap(
    lambda base: st.one_of(
        st.builds(
            lambda seats: {**base, "seats": seats},
            st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=100),
        ),
        st.builds(
            lambda chosen: {**base, "tickets": chosen},
            st.lists(
                st.one_of(
                    st.builds(lambda s: {"seat": s}, st.integers(min_value=1, max_value=10**6)),
                    st.builds(
                        lambda s, t: {"seat": s, "type": t},
                        st.integers(min_value=1, max_value=10**6),
                        st.sampled_from(["full", "half"]),
                    ),
                ),
                min_size=1,
                max_size=100,
            ),
        ),
    )
)


def _serializer(data) -> dict | None:
    serializer = ReservationInputSerializer(data=data)
    return dict(serializer.validated_data) if serializer.is_valid() else None


@settings(max_examples=1500, deadline=None)
@given(st.one_of(requests, near))
def test_what_the_fast_path_accepts_the_serializer_accepts_alike(data):
    fast = reservation_input(data)
    if fast is not None:
        assert fast == _serializer(data)


@settings(max_examples=300, deadline=None)
@given(well_formed)
def test_well_formed_requests_take_the_fast_path(data):
    fast = reservation_input(data)
    assert fast is not None
    assert fast == _serializer(data)
