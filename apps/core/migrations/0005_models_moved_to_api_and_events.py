"""The core app's models now live in api and events, on the same tables: core forgets them without touching the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("api", "0001_initial"),
        ("core", "0004_outbox_notify"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="idempotencykey",
                    name="user",
                ),
                migrations.DeleteModel(
                    name="OutboxEvent",
                ),
                migrations.DeleteModel(
                    name="ProcessedEvent",
                ),
                migrations.DeleteModel(
                    name="IdempotencyKey",
                ),
            ],
            database_operations=[],
        ),
    ]
