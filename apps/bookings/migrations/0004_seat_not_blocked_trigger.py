"""A blocked seat is never held: PostgreSQL refuses an active reservation seat on a session seat
whose category is `blocked`, whatever inserted it (the API checks first, for a clear 409)."""

from django.db import migrations

CREATE = """
CREATE FUNCTION bookings_seat_not_blocked_check() RETURNS trigger AS $$
BEGIN
  IF NEW.is_active AND EXISTS (
    SELECT 1 FROM screenings_sessionseat
    WHERE id = NEW.session_seat_id AND category = 'blocked'
  ) THEN
    RAISE EXCEPTION 'session seat % is blocked', NEW.session_seat_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_seat_not_blocked';
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER bookings_seat_not_blocked
BEFORE INSERT OR UPDATE OF session_seat_id, is_active ON bookings_reservationseat
FOR EACH ROW EXECUTE FUNCTION bookings_seat_not_blocked_check();
"""

DROP = """
DROP TRIGGER IF EXISTS bookings_seat_not_blocked ON bookings_reservationseat;
DROP FUNCTION IF EXISTS bookings_seat_not_blocked_check();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0003_reservationseat_ticket_type"),
        ("screenings", "0002_sessionseat_category_cancel_permission"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
