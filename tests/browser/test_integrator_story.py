"""An integrator's first hour in Swagger UI (/api-docs), in a real browser: log in through the
documented login operation, authorize with the session token it returns, hold a seat (with a
hold long enough for a person, `?hold_seconds=`), pay for it, and find the purchase listed."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from apps.bookings.models import Reservation
from apps.payments.models import Sale
from tests.factories import PASSWORD, UserFactory, make_session
from tests.helpers import seat_ids

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SWAGGER_WAIT = 30


class Swagger:
    """Swagger UI's operations, driven the way a person does: expand, try it out, fill in,
    execute, read the answer."""

    def __init__(self, browser) -> None:
        self.browser = browser
        self.wait = WebDriverWait(browser, SWAGGER_WAIT)

    def operation(self, tag: str, operation_id: str):
        block = self.wait.until(
            seen.presence_of_element_located((By.ID, f"operations-{tag}-{operation_id}"))
        )
        if "is-open" not in block.get_attribute("class"):
            summary = block.find_element(By.CSS_SELECTOR, ".opblock-summary-control")
            self.browser.execute_script("arguments[0].scrollIntoView(true);", summary)
            summary.click()
        self.wait.until(lambda _: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
        button = block.find_element(By.CSS_SELECTOR, ".try-out__btn")
        if "cancel" not in button.get_attribute("class"):
            button.click()
        return block

    def fill_body(self, block, body: dict) -> None:
        area = self.wait.until(
            lambda _: block.find_element(By.CSS_SELECTOR, "textarea.body-param__text")
        )
        area.send_keys(Keys.CONTROL, "a")
        area.send_keys(Keys.DELETE)
        area.send_keys(json.dumps(body))

    def fill_parameter(self, block, name: str, value: str) -> None:
        field = block.find_element(By.CSS_SELECTOR, f"tr[data-param-name='{name}'] input")
        field.clear()
        field.send_keys(value)

    def execute(self, block) -> tuple[int, dict]:
        block.find_element(By.CSS_SELECTOR, ".execute").click()
        status = self.wait.until(
            lambda _: block.find_element(
                By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"
            )
        )
        body = block.find_element(
            By.CSS_SELECTOR, ".live-responses-table .response-col_description pre"
        )
        return int(status.text.split()[0]), json.loads(body.text or "null")


def test_an_integrator_logs_in_reserves_pays_and_lists_purchases_in_swagger(
    browser, live_server, screenshot
):
    buyer = UserFactory()
    session = make_session()
    seat = seat_ids(session, 1)[0]
    browser.get(f"{live_server.url}/api-docs")
    swagger = Swagger(browser)

    # Log in with the documented operation, and keep the token it gives.
    login = swagger.operation("auth", "log_in")
    swagger.fill_body(login, {"email": buyer.email, "password": PASSWORD})
    status, body = swagger.execute(login)
    screenshot(browser, "login")
    assert status == 200, body
    token = body["meta"]["session_token"]

    # Authorize: every operation that needs the token now sends it.
    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    dialog = swagger.wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, ".modal-ux")))
    dialog.find_element(By.CSS_SELECTOR, "input[type=text]").send_keys(token)
    dialog.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper .authorize").click()
    screenshot(browser, "authorized")
    dialog.find_element(By.CSS_SELECTOR, ".btn-done").click()

    # Hold a seat for five minutes: time to read the docs between steps.
    reserve = swagger.operation("reservations", "reservations_create")
    swagger.fill_parameter(reserve, "hold_seconds", "300")
    swagger.fill_body(reserve, {"session": session.id, "seats": [seat]})
    status, reservation = swagger.execute(reserve)
    screenshot(browser, "reserved")
    assert status == 201, reservation
    held = Reservation.objects.get(pk=reservation["id"])
    assert held.user_id == buyer.id
    assert 295 <= (held.expires_at - held.created_at).total_seconds() <= 301

    # Pay with the sandbox's approved card.
    pay = swagger.operation("reservations", "reservations_payment_create")
    swagger.fill_parameter(pay, "reservation_id", reservation["id"])
    swagger.fill_body(pay, {"token": "tok_visa"})
    status, sale = swagger.execute(pay)
    screenshot(browser, "paid")
    assert status == 201, sale
    assert Sale.objects.filter(user=buyer).count() == 1

    # The purchase is listed.
    mine = swagger.operation("me", "me_purchases_list")
    status, purchases = swagger.execute(mine)
    screenshot(browser, "purchases")
    assert status == 200, purchases
    assert [p["id"] for p in purchases["results"]] == [sale["id"]]
