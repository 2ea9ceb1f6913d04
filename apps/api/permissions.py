"""Who may call what. Staff powers are Django permissions, held through roles (groups, see
apps/accounts/roles.py) or directly; a superuser holds them all. Never test `is_staff` here: it
only opens the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_permission_codename
from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:
    from django.db.models import Model
    from rest_framework.request import Request
    from rest_framework.views import APIView


def user_has_perms(user, *perms: str) -> bool:
    """Whether a signed-in, active user holds every one of these Django permissions (through
    their groups or directly; a superuser holds them all)."""
    return bool(user and user.is_authenticated and user.has_perms(perms))


class RequiresPermissions(BasePermission):
    """A signed-in user holding every permission in `perms`: build one with `requires()`."""

    perms: tuple[str, ...] = ()

    def has_permission(self, request: Request, view: APIView) -> bool:
        return user_has_perms(request.user, *self.perms)


def requires(*perms: str) -> type[RequiresPermissions]:
    """A DRF permission class for a staff action, e.g. `requires("payments.check_in_ticket")`."""
    return type("Requires", (RequiresPermissions,), {"perms": perms})


# What a write does to the view's model, by HTTP method, as Django's model permissions name it.
WRITE_ACTIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def write_permission(model: type[Model], method: str) -> str | None:
    """The permission a write of `method` on `model` needs, e.g. "catalog.add_movie"; None for
    a method that is not a write of the model."""
    action = WRITE_ACTIONS.get(method)
    if action is None:
        return None
    return f"{model._meta.app_label}.{get_permission_codename(action, model._meta)}"


class ModelPermissionsOrReadOnly(BasePermission):
    """Anyone reads; a write needs the model permission of its method on the view's
    `permission_model`: POST add, PUT/PATCH change, DELETE delete (the catalogue: movies,
    cinemas, rooms, sessions; the "Catalogue managers" role holds these).

    DRF's `DjangoModelPermissionsOrAnonReadOnly`, but the model is named by the view rather
    than read off a queryset. The project's default: a view that names no model is read-only.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        needed = self.required_permission(request.method, view)
        return needed is not None and user_has_perms(request.user, needed)

    @staticmethod
    def required_permission(method: str, view: APIView) -> str | None:
        model = getattr(view, "permission_model", None)
        return None if model is None else write_permission(model, method)
