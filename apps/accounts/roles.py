"""Staff roles: one Django group each, holding the permissions its job needs.

The API and the admin check permissions (`user.has_perm("payments.refund_sale")`), never a role
or `is_staff`: a role is only a named bundle of permissions, and staff may hold several. Being
`is_staff` just opens the admin; a superuser holds every permission.

Permissions are named by their "app_label.codename" strings, as `has_perm` takes them: data, not
imports, so the accounts app still knows no domain module. Migration 0002_staff_roles made these
groups with a frozen copy of this table; when a role changes, change it here and write a data
migration that brings existing databases to it (tests/accounts/test_roles.py compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db.models import Q


def _crud(label: str, *model_names: str) -> tuple[str, ...]:
    return tuple(
        f"{label}.{action}_{model_name}"
        for model_name in model_names
        for action in ("add", "change", "delete", "view")
    )


@dataclass(frozen=True)
class Role:
    group_name: str
    permissions: tuple[str, ...]


CATALOGUE = Role(
    "Catalogue managers",
    (
        *_crud("catalog", "movie"),
        *_crud("rooms", "cinema", "room", "seat"),
        # A session's prices are fields of the session.
        *_crud("screenings", "session"),
        "screenings.cancel_session",
    ),
)

BOX_OFFICE = Role(
    "Box office",
    (
        "payments.view_sale",
        "payments.refund_sale",
        "payments.view_payment",
        "payments.view_ticket",
        "bookings.view_reservation",
        "stats.view_sessionstats",
        "screenings.view_session",
    ),
)

DOOR = Role(
    "Door",
    (
        "payments.check_in_ticket",
        "payments.view_ticket",  # the admin lists tickets only to those who may view them
        "screenings.view_session",  # a session's page says how many of its tickets are in
    ),
)

ROLES: tuple[Role, ...] = (CATALOGUE, BOX_OFFICE, DOOR)


def permissions_of(role: Role) -> list[Permission]:
    """The role's Permission rows; raises if one is missing (a typo, or migrations not run)."""
    wanted = Q(pk__in=[])
    for name in role.permissions:
        app_label, codename = name.split(".", 1)
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(wanted).select_related("content_type"))
    missing = set(role.permissions) - {
        f"{perm.content_type.app_label}.{perm.codename}" for perm in found
    }
    if missing:
        raise LookupError(f"Permissions of role {role.group_name!r} not found: {sorted(missing)}")
    return found


def role_group(role: Role) -> Group:
    """The role's group, made (or set back) to hold exactly the role's permissions.

    Migrations create the groups; this serves seed data and tests, and databases emptied since.
    """
    group, _ = Group.objects.get_or_create(name=role.group_name)
    group.permissions.set(permissions_of(role))
    return group
