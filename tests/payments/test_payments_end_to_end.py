"""Payments that settle later, end to end through real processes: a web instance serves the API and
the webhooks, the sandbox provider delivers its signed webhooks over HTTP from a Celery worker,
which also processes them, mails the tickets and refunds."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import requests
from django.conf import settings
from django.db import connection, transaction

from apps.bookings.seat_map import seat_map
from apps.payments.models import FakeProviderPayment, Payment, Sale, Ticket, WebhookEvent
from apps.payments.providers.fake import SIGNATURE_HEADER, sign
from bench.tokens import session_token_for
from tests.events.helpers import distinct_session_ids, wait_until
from tests.factories import StaffFactory, UserFactory, make_room, make_sale, make_session
from tests.payments.stack import Client, payment_stack
from tests.processes import kill_group

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _hold(buyer: Client, session, count: int = 2) -> tuple[str, list[int]]:
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:count])
    response = buyer.post("/api/v1/reservations", {"session": session.id, "seats": seats})
    assert response.status_code == 201, response.text
    return response.json()["id"], seats


def _pay_pix(buyer: Client, reservation_id: str) -> dict:
    response = buyer.post(f"/api/v1/reservations/{reservation_id}/payment", {"token": "tok_pix"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["Location"] == f"/api/v1/payments/{body['id']}"
    return body


def _ticket_mails(stack, sale_id) -> list[str]:
    return [m for m in stack.mails() if str(sale_id) in m]


def test_pix_paid_in_the_sandbox_becomes_a_sale_through_a_signed_webhook_over_http(tmp_path):
    distinct_session_ids()
    session = make_session()
    user = UserFactory()
    with payment_stack(tmp_path) as stack, stack.worker():
        buyer = Client(stack, session_token_for(user))
        reservation_id, seats = _hold(buyer, session)
        pending = _pay_pix(buyer, reservation_id)
        assert pending["status"] == "pending"
        assert pending["method"] == "pix"
        assert pending["next_action"]["type"] == "pix"
        assert pending["next_action"]["copy_paste"].startswith("000201")
        qr = requests.get(f"{stack.base}{pending['next_action']['qr_svg_url']}", timeout=10)
        assert qr.status_code == 200
        assert qr.headers["Content-Type"] == "image/svg+xml"

        settled = buyer.post(f"/api/v1/payments/{pending['id']}/sandbox", {"outcome": "succeeded"})
        assert settled.status_code == 202, settled.text

        def paid() -> dict | None:
            body = buyer.get(f"/api/v1/payments/{pending['id']}").json()
            return body if body["status"] == "succeeded" and body["sale"] else None

        payment = wait_until(paid, timeout=30, interval=0.2, what="the webhook to make the sale")
        sale = payment["sale"]
        assert sale["status"] == "paid"
        assert sorted(t["seat"]["id"] for t in sale["tickets"]) == seats
        purchases = buyer.get("/api/v1/me/purchases").json()["results"]
        assert [p["id"] for p in purchases] == [sale["id"]]
        seat_map = {
            s["id"]: s["status"] for s in buyer.get(f"/api/v1/sessions/{session.id}/seats").json()
        }
        assert [seat_map[s] for s in seats] == ["sold", "sold"]
        wait_until(lambda: _ticket_mails(stack, sale["id"]), timeout=30, what="the ticket e-mail")

    event = WebhookEvent.objects.get()
    assert (event.provider, event.type, event.outcome) == ("fake", "payment.succeeded", "applied")
    assert event.payment_id == uuid.UUID(pending["id"])
    assert event.processed_at is not None
    assert Sale.objects.count() == 1
    assert Ticket.objects.count() == 2


def _signed(body: dict) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    header = sign(raw, secret=settings.PAYMENT_WEBHOOK_SECRET, timestamp=int(time.time()))
    return raw, {"Content-Type": "application/json", SIGNATURE_HEADER: header}


def _success_event(payment_id: str) -> dict:
    """What the sandbox would send once the buyer paid (its ledger moved to succeeded first)."""
    row = FakeProviderPayment.objects.get(payment_id=payment_id)
    FakeProviderPayment.objects.filter(pk=row.pk).update(status="succeeded")
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "created": int(time.time()),
        "data": {"payment_id": payment_id, "amount": f"{row.amount:.2f}", "currency": "BRL"},
    }


def test_the_same_webhook_delivered_three_times_at_once_makes_one_sale_and_one_email(tmp_path):
    distinct_session_ids()
    session = make_session()
    user = UserFactory()
    with payment_stack(tmp_path) as stack, stack.worker():
        buyer = Client(stack, session_token_for(user))
        reservation_id, seats = _hold(buyer, session)
        pending = _pay_pix(buyer, reservation_id)
        raw, headers = _signed(_success_event(pending["id"]))
        barrier = threading.Barrier(3)
        answers: list[int] = []

        def deliver() -> None:
            barrier.wait()
            url = f"{stack.base}/api/v1/payments/webhooks/fake"
            answers.append(requests.post(url, data=raw, headers=headers, timeout=15).status_code)

        threads = [threading.Thread(target=deliver) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [200, 200, 200]

        sale = wait_until(
            lambda: Sale.objects.filter(payment_id=pending["id"]).first(),
            timeout=30,
            what="the sale",
        )
        wait_until(lambda: _ticket_mails(stack, sale.id), timeout=30, what="the ticket e-mail")
        time.sleep(2)  # room for a second sale or e-mail, were there one to come
        assert len(_ticket_mails(stack, sale.id)) == 1

    assert WebhookEvent.objects.count() == 1
    assert WebhookEvent.objects.get().outcome == "applied"
    assert Sale.objects.count() == 1
    assert Ticket.objects.count() == len(seats)
    assert Payment.objects.get().status == "succeeded"


def _waiting_on_a_lock(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND query ILIKE %s",
            [f"%{table}%"],
        )
        return cursor.fetchone()[0] > 0


def test_worker_killed_while_processing_a_webhook_applies_it_exactly_once_after_restart(tmp_path):
    distinct_session_ids()
    session = make_session()
    user = UserFactory()
    with payment_stack(tmp_path) as stack:
        buyer = Client(stack, session_token_for(user))
        with stack.worker():
            reservation_id, seats = _hold(buyer, session)
            pending = _pay_pix(buyer, reservation_id)
        raw, headers = _signed(_success_event(pending["id"]))

        # The test holds the payment's row lock: the worker's processing transaction gets as far
        # as the event's row lock and waits there, in the middle of its work.
        locked, release = threading.Event(), threading.Event()

        def hold_payment_lock() -> None:
            try:
                with transaction.atomic():
                    Payment.objects.select_for_update().get(pk=pending["id"])
                    locked.set()
                    release.wait(60)
            finally:
                connection.close()

        holder = threading.Thread(target=hold_payment_lock)
        holder.start()
        assert locked.wait(10)
        try:
            with stack.worker() as worker:
                url = f"{stack.base}/api/v1/payments/webhooks/fake"
                assert requests.post(url, data=raw, headers=headers, timeout=15).status_code == 200
                wait_until(
                    lambda: _waiting_on_a_lock("payments_payment"),
                    timeout=20,
                    what="the worker to be inside the event's processing",
                )
                kill_group(worker)
        finally:
            release.set()
            holder.join()

        event = WebhookEvent.objects.get()
        assert event.processed_at is None  # its transaction died with the worker
        assert Sale.objects.count() == 0
        assert Payment.objects.get().status == "pending"

        with stack.worker():
            wait_until(
                lambda: WebhookEvent.objects.filter(processed_at__isnull=False).exists(),
                timeout=30,
                what="the redelivered task to process the event",
            )
            sale = Sale.objects.get()
            wait_until(lambda: _ticket_mails(stack, sale.id), timeout=30, what="the e-mail")

    assert WebhookEvent.objects.get().outcome == "applied"
    assert Sale.objects.count() == 1
    assert Ticket.objects.count() == len(seats)
    assert Payment.objects.get().status == "succeeded"


SALES = 200


def _refunded() -> int:
    return Payment.objects.filter(status="refunded").count()


def test_a_cancelled_session_refunds_every_sale_and_mails_every_buyer_across_a_worker_kill(
    tmp_path,
):
    distinct_session_ids()
    session = make_session(room=make_room(rows=10, seats_per_row=20))
    buyers = [UserFactory() for _ in range(SALES // 4)]
    for index in range(SALES):
        make_sale(user=buyers[index % len(buyers)], session=session)
    assert Sale.objects.filter(session=session, status="paid").count() == SALES
    staff = StaffFactory()

    with payment_stack(tmp_path) as stack:
        with stack.worker() as first:
            answer = Client(stack, session_token_for(staff)).post(
                f"/api/v1/sessions/{session.id}/cancel"
            )
            assert answer.status_code == 202, answer.text
            assert answer.json() == {
                "session": session.id,
                "status": "cancelled",
                "sales_to_refund": SALES,
            }
            wait_until(
                lambda: Sale.objects.filter(session=session, status="refunded").count() >= 40,
                timeout=60,
                what="the refunds to be under way",
            )
            kill_group(first)
        halfway = Sale.objects.filter(session=session, status="refunded").count()
        assert halfway < SALES, "the worker finished before it could be killed"

        with stack.worker():
            wait_until(
                lambda: _refunded() == SALES,
                timeout=180,
                interval=0.5,
                what="every payment refunded at the provider",
            )

            def refund_mails() -> set[str]:
                ids = {str(p) for p in Payment.objects.values_list("id", flat=True)}
                mailed = set()
                for message in stack.mails():
                    mailed |= {i for i in ids if i in message and "R$" in message}
                return mailed if len(mailed) == SALES else set()

            mailed = wait_until(refund_mails, timeout=120, interval=1, what="every refund e-mail")

    assert len(mailed) == SALES
    assert Sale.objects.filter(session=session, status="refunded").count() == SALES
    assert not Ticket.objects.filter(sale__session=session, voided_at__isnull=True).exists()
    assert set(Payment.objects.values_list("refund_reason", flat=True)) == {"session_cancelled"}
    assert {entry.status for entry in seat_map(session)} == {"available"}
    assert FakeProviderPayment.objects.filter(status="refunded").count() == SALES
    print(f"\nworker killed after {halfway} of {SALES} refunds; the next one finished the rest")
