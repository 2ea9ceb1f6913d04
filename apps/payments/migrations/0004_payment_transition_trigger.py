"""The payment lifecycle's transition table, enforced by PostgreSQL as well as by Python.

The pairs below are `apps.payments.lifecycle.transition_pairs()` as of this migration; a test fails
if the two ever differ (a change to the table needs a new migration that replaces this function).
"""

from django.db import migrations

PAIRS = [
    ("canceled", "refunded"),
    ("canceled", "succeeded"),
    ("failed", "refunded"),
    ("failed", "succeeded"),
    ("pending", "canceled"),
    ("pending", "failed"),
    ("pending", "refunded"),
    ("pending", "succeeded"),
    ("processing", "canceled"),
    ("processing", "failed"),
    ("processing", "pending"),
    ("processing", "refunded"),
    ("processing", "succeeded"),
    ("succeeded", "refunded"),
]

_ALLOWED = ", ".join(f"('{old}', '{new}')" for old, new in PAIRS)

CREATE = f"""
CREATE FUNCTION payments_payment_transition_check() RETURNS trigger AS $$
BEGIN
  IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN ({_ALLOWED}) THEN
    RAISE EXCEPTION 'payment % cannot go from % to %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_payment_transition';
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_payment_transition
BEFORE UPDATE OF status ON payments_payment
FOR EACH ROW EXECUTE FUNCTION payments_payment_transition_check();
"""

DROP = """
DROP TRIGGER IF EXISTS payments_payment_transition ON payments_payment;
DROP FUNCTION IF EXISTS payments_payment_transition_check();
"""


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_payment_lifecycle")]

    operations = [migrations.RunSQL(CREATE, DROP)]
