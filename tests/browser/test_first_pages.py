"""The two doors people come through, in a real browser: a staff member logs in to the admin and
opens the sessions, and an integrator opens the API docs and finds the operations listed."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import admin_log_in
from tests.factories import StaffFactory, make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_staff_log_in_to_the_admin_and_open_the_sessions(browser, live_server, screenshot):
    staff = StaffFactory()
    session = make_session()
    wait = admin_log_in(browser, live_server.url, staff.email)
    screenshot(browser, "index")
    assert "/admin/login" not in browser.current_url

    browser.get(f"{live_server.url}/admin/screenings/session/")
    wait.until(seen.presence_of_element_located((By.ID, "result_list")))
    screenshot(browser, "sessions")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert session.movie.title in rows[0].text


def test_the_api_docs_list_the_operations(browser, live_server, screenshot):
    browser.get(f"{live_server.url}/api-docs")
    wait = WebDriverWait(browser, 30)
    wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    screenshot(browser, "swagger")
    paths = {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert "/api/v1/reservations" in paths
    assert "/api/v1/sessions/{id}/seats" in paths
