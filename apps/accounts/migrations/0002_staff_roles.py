"""Staff roles as groups; every staff user of before (all powers) gets all three.

The roles are copied here as they were when this migration was written: a migration must keep
doing what it did, whatever apps/accounts/roles.py says later.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def _crud(label, *model_names):
    return [
        f"{label}.{action}_{model_name}"
        for model_name in model_names
        for action in ("add", "change", "delete", "view")
    ]


ROLES = {
    "Catalogue managers": [
        *_crud("catalog", "movie"),
        *_crud("rooms", "cinema", "room", "seat"),
        *_crud("screenings", "session"),
        "screenings.cancel_session",
    ],
    "Box office": [
        "payments.view_sale",
        "payments.refund_sale",
        "payments.view_payment",
        "payments.view_ticket",
        "bookings.view_reservation",
        "stats.view_sessionstats",
        "screenings.view_session",
    ],
    "Door": [
        "payments.check_in_ticket",
        "payments.view_ticket",
        "screenings.view_session",
    ],
}


def _ensure_permissions(apps, using):
    """Permissions are made by a post_migrate handler, after every migration has run: on a new
    database they do not exist yet. Make them now, from the historical models. Django's
    `create_permissions` skips an app config without a models module, and the historical
    registry's stub configs have none, so the stub gets one for the call."""
    labels = sorted({name.split(".", 1)[0] for names in ROLES.values() for name in names})
    for label in labels:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        try:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)
        finally:
            del app_config.models_module


def create_staff_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    _ensure_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("accounts", "User")

    staff = list(User.objects.using(using).filter(is_staff=True, is_superuser=False))
    for group_name, names in ROLES.items():
        group, _ = Group.objects.using(using).get_or_create(name=group_name)
        for name in names:
            app_label, codename = name.split(".", 1)
            group.permissions.add(
                Permission.objects.using(using).get(
                    content_type__app_label=app_label, codename=codename
                )
            )
        group.user_set.add(*staff)


def remove_staff_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0001_initial"),
        ("rooms", "0002_seat_category"),
        ("screenings", "0002_sessionseat_category_cancel_permission"),
        ("bookings", "0004_seat_not_blocked_trigger"),
        ("payments", "0005_ticket_type_checkin_permissions"),
        ("stats", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_staff_roles, remove_staff_roles)]
