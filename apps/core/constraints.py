"""Constraint violations as a person reads them: a translated message at the field it is about.

Every constraint of the apps carries a `violation_error_message` (translated) and a
`violation_error_code` (where a service maps the constraint to an application error with
`constraint_errors`, the same code the API answers with). Django shows the error of a check
constraint, and of a unique constraint with its own message, at the top of a form, away from the
field to fix; a model that mixes this in names that field per constraint and its error moves
there.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


class ConstraintErrorsAtFields:
    """Mix into a model before `models.Model`; `constraint_fields` maps constraint names to the
    field that a person changes to satisfy it."""

    constraint_fields: ClassVar[dict[str, str]] = {}

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        try:
            super().validate_constraints(exclude)
        except ValidationError as error:
            raise ValidationError(self._at_fields(error, exclude or ())) from error

    def _at_fields(
        self, error: ValidationError, exclude: Collection[str]
    ) -> dict[str, list[ValidationError]]:
        # Django's constraint errors keep their code but not their constraint: the code leads
        # back to it. A field left out of the form keeps the error at the top, where it shows.
        field_of_code = {
            constraint.violation_error_code: self.constraint_fields[constraint.name]
            for constraint in self._meta.constraints
            if constraint.name in self.constraint_fields
        }
        placed: dict[str, list[ValidationError]] = {}
        for key, errors in error.error_dict.items():
            for each in errors:
                field = field_of_code.get(each.code) if key == NON_FIELD_ERRORS else key
                if field is None or field in exclude:
                    field = key
                placed.setdefault(field, []).append(each)
        return placed
