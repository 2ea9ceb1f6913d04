"""The payment lifecycle: the Python transition table and the PostgreSQL trigger are one table."""

from __future__ import annotations

import importlib
import itertools
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from apps.payments import lifecycle
from apps.payments.lifecycle import IllegalTransition, PaymentStatus, check_transition
from apps.payments.models import ONE_PAYMENT_IN_FLIGHT, Payment
from tests.factories import hold

pytestmark = pytest.mark.django_db

STATUSES = PaymentStatus.ALL
PAIRS = [(old, new) for old, new in itertools.product(STATUSES, STATUSES) if old != new]
MIGRATION = importlib.import_module("apps.payments.migrations.0004_payment_transition_trigger")


@pytest.fixture
def reservation(user, session):
    return hold(user, session, 2)


def new_payment(reservation, status: str, key: str = "key-1") -> Payment:
    """A payment row inserted straight in `status` (the trigger guards updates only)."""
    return Payment.objects.create(
        reservation=reservation,
        user=reservation.user,
        amount=Decimal("50.00"),
        provider="fake",
        idempotency_key=key,
        status=status,
    )


def raw_set_status(payment_id, status: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_payment SET status = %s WHERE id = %s", [status, payment_id]
        )


def constraint_of(exc: IntegrityError) -> str:
    return exc.__cause__.diag.constraint_name


def test_the_table_covers_every_status_and_never_a_move_to_itself():
    assert set(lifecycle.TRANSITIONS) == set(STATUSES)
    for status, targets in lifecycle.TRANSITIONS.items():
        assert targets <= set(STATUSES)
        assert status not in targets
    assert lifecycle.TRANSITIONS[PaymentStatus.REFUNDED] == frozenset()


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{o}->{n}" for o, n in PAIRS])
def test_raw_sql_can_make_exactly_the_moves_of_the_table(reservation, old, new):
    allowed = new in lifecycle.TRANSITIONS[old]
    with transaction.atomic():
        payment = new_payment(reservation, old)
        if allowed:
            raw_set_status(payment.id, new)
            assert Payment.objects.get(pk=payment.pk).status == new
        else:
            with pytest.raises(IntegrityError) as caught, transaction.atomic():
                raw_set_status(payment.id, new)
            assert constraint_of(caught.value) == "payments_payment_transition"
            assert f"cannot go from {old} to {new}" in str(caught.value)
            assert Payment.objects.get(pk=payment.pk).status == old
        transaction.set_rollback(True)
    assert not Payment.objects.exists()


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{o}->{n}" for o, n in PAIRS])
def test_check_transition_agrees_with_the_table(old, new):
    if new in lifecycle.TRANSITIONS[old]:
        check_transition(old, new)
        assert lifecycle.can_transition(old, new)
    else:
        with pytest.raises(IllegalTransition) as caught:
            check_transition(old, new)
        assert (caught.value.current, caught.value.new) == (old, new)
        assert not lifecycle.can_transition(old, new)


@pytest.mark.parametrize("status", STATUSES)
def test_no_status_moves_to_itself_in_python_while_sql_may_rewrite_it_unchanged(
    reservation, status
):
    with pytest.raises(IllegalTransition):
        check_transition(status, status)
    payment = new_payment(reservation, status)
    raw_set_status(payment.id, status)  # not a move: the trigger lets other columns change
    assert Payment.objects.get(pk=payment.pk).status == status


def test_illegal_transition_names_both_statuses():
    with pytest.raises(IllegalTransition, match="from refunded to succeeded"):
        check_transition(PaymentStatus.REFUNDED, PaymentStatus.SUCCEEDED)
    with pytest.raises(IllegalTransition, match="from succeeded to failed"):
        check_transition(PaymentStatus.SUCCEEDED, PaymentStatus.FAILED)


def test_the_migration_holds_the_same_pairs_as_the_table():
    assert sorted(MIGRATION.PAIRS) == lifecycle.transition_pairs()
    assert len(MIGRATION.PAIRS) == len(set(MIGRATION.PAIRS))
    assert lifecycle.transition_pairs() == sorted(
        (old, new) for old, new in PAIRS if new in lifecycle.TRANSITIONS[old]
    )


def test_the_trigger_is_installed_on_status_updates():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'payments_payment_transition' "
            "AND tgrelid = 'payments_payment'::regclass"
        )
        assert cursor.fetchall() == [("O",)]


def test_the_orm_cannot_make_an_illegal_move_either(reservation):
    payment = new_payment(reservation, PaymentStatus.REFUNDED)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED)
    assert constraint_of(caught.value) == "payments_payment_transition"
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REFUNDED


def test_the_status_check_refuses_an_unknown_status(reservation):
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        new_payment(reservation, "approved")
    assert constraint_of(caught.value) == "payments_payment_status_valid"
    assert not Payment.objects.exists()


def test_one_payment_in_flight_per_reservation(reservation):
    first = new_payment(reservation, PaymentStatus.PROCESSING, key="key-1")
    for status in PaymentStatus.IN_FLIGHT:
        with pytest.raises(IntegrityError) as caught, transaction.atomic():
            new_payment(reservation, status, key=f"key-{status}")
        assert constraint_of(caught.value) == ONE_PAYMENT_IN_FLIGHT
    assert list(Payment.objects.values_list("id", flat=True)) == [first.id]


def test_settled_payments_do_not_count_as_in_flight(reservation):
    for index, status in enumerate(
        [PaymentStatus.FAILED, PaymentStatus.CANCELED, PaymentStatus.SUCCEEDED]
    ):
        new_payment(reservation, status, key=f"settled-{index}")
    new_payment(reservation, PaymentStatus.PENDING, key="in-flight")
    assert Payment.objects.filter(reservation=reservation).count() == 4
