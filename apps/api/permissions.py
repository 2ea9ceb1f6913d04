from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:
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


class IsStaffOrReadOnly(BasePermission):
    """Anyone reads the catalogue; only staff change it."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
