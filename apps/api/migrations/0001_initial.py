"""The Idempotency-Key records, moved from the core app: the table stays as it is (core_idempotencykey); only Django's state moves."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("core", "0004_outbox_notify"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IdempotencyKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("key", models.CharField(max_length=255)),
                        ("method", models.CharField(max_length=10)),
                        ("path", models.CharField(max_length=255)),
                        (
                            "fingerprint",
                            models.CharField(
                                help_text="SHA-256 of method, path and body.", max_length=64
                            ),
                        ),
                        ("status_code", models.PositiveSmallIntegerField(null=True)),
                        ("response_body", models.TextField(blank=True, default="")),
                        (
                            "content_type",
                            models.CharField(default="application/json", max_length=64),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "core_idempotencykey",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("user", "key"), name="core_idempotencykey_user_key"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
