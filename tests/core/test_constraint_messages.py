"""Every constraint of the apps has a translated message a person can act on, and its error is
shown at the field it is about: no database or Python text reaches a form."""

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import BaseConstraint
from django.utils import translation

from apps.core.constraints import ConstraintErrorsAtFields
from apps.rooms.models import Seat
from tests.factories import make_room


def project_constraints() -> list:
    return [
        pytest.param(model, constraint, id=constraint.name)
        for model in apps.get_models()
        if model.__module__.startswith("apps.")
        for constraint in model._meta.constraints
    ]


def test_the_apps_have_constraints():
    assert len(project_constraints()) >= 29


@pytest.mark.parametrize(("model", "constraint"), project_constraints())
def test_each_constraint_has_a_translated_human_message_at_a_field(model, constraint):
    message = constraint.violation_error_message
    assert message is not None
    assert message != BaseConstraint.default_violation_error_message
    with translation.override("en"):
        english = str(constraint.get_violation_error_message())
    with translation.override("pt-br"):
        portuguese = str(constraint.get_violation_error_message())
    assert portuguese != english, f"no pt-BR translation of {english!r}"
    for text in (english, portuguese):
        assert constraint.name not in text
        assert "%(" not in text
        assert text[0].isupper()
        assert text.endswith(".")

    assert constraint.violation_error_code
    assert issubclass(model, ConstraintErrorsAtFields)
    field = model.constraint_fields[constraint.name]
    assert field in {f.name for f in model._meta.concrete_fields}
    codes = [c.violation_error_code for c in model._meta.constraints]
    assert codes.count(constraint.violation_error_code) == 1  # the code finds the field


@pytest.mark.django_db
def test_a_constraint_error_is_put_at_its_field():
    room = make_room()
    seat = Seat(room=room, row="Z", number=0, label="Z0")

    with translation.override("pt-br"), pytest.raises(ValidationError) as raised:
        seat.full_clean()

    assert raised.value.message_dict == {"number": ["Os números dos assentos começam em 1."]}
