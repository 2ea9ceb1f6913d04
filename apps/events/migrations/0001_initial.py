"""The outbox and the consumers' processed events, moved from the core app: the tables (and the outbox's NOTIFY trigger, core 0004) stay as they are; only Django's state moves."""

import django.core.serializers.json
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("core", "0004_outbox_notify"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboxEvent",
                    fields=[
                        ("seq", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "event_id",
                            models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
                        ),
                        ("type", models.CharField(max_length=64)),
                        (
                            "data",
                            models.JSONField(
                                encoder=django.core.serializers.json.DjangoJSONEncoder
                            ),
                        ),
                        ("occurred_at", models.DateTimeField()),
                        ("published_at", models.DateTimeField(blank=True, null=True)),
                        ("request_id", models.CharField(blank=True, default="", max_length=64)),
                    ],
                    options={
                        "db_table": "core_outboxevent",
                        "ordering": ["seq"],
                        "indexes": [
                            models.Index(
                                condition=models.Q(("published_at__isnull", True)),
                                fields=["seq"],
                                name="core_outbox_unpublished",
                            ),
                            models.Index(fields=["published_at"], name="core_outbox_published_at"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ProcessedEvent",
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
                        ("consumer", models.CharField(max_length=64)),
                        ("event_id", models.UUIDField()),
                        ("processed_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "core_processedevent",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("consumer", "event_id"), name="core_processedevent_once"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
