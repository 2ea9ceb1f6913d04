from django.db import migrations

# Every statement that writes outbox rows notifies the relays, delivered when (and only if) its
# transaction commits; several notifications of one transaction arrive as one.
CREATE = """
CREATE FUNCTION core_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('cinema_outbox', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER core_outbox_notify AFTER INSERT ON core_outboxevent
  FOR EACH STATEMENT EXECUTE FUNCTION core_outbox_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS core_outbox_notify ON core_outboxevent;
DROP FUNCTION IF EXISTS core_outbox_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("core", "0003_outbox_request_id")]

    operations = [migrations.RunSQL(CREATE, DROP)]
