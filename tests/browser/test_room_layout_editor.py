"""A staff member makes a room in the admin's layout editor by clicking in its grid, in a real
browser: an aisle down the middle, a wheelchair space, then the saved seats on the room's page."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from apps.rooms.models import Room
from tests.browser.conftest import WAIT_SECONDS, admin_log_in
from tests.factories import CinemaFactory, StaffFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def set_number(browser, field_id: str, value: int) -> None:
    field = browser.find_element(By.ID, field_id)
    field.clear()
    # Leaving the field (Tab) fires its change event: the grid is drawn again at that size.
    field.send_keys(str(value), Keys.TAB)


def test_staff_make_a_room_by_clicking_in_the_grid(browser, live_server, screenshot):
    staff = StaffFactory()
    cinema = CinemaFactory(name="Cine Centro")
    admin_log_in(browser, live_server.url, staff.email)
    wait = WebDriverWait(browser, WAIT_SECONDS)

    browser.get(f"{live_server.url}/admin/rooms/room/add/")
    wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, ".le-grid")))
    Select(browser.find_element(By.ID, "id_cinema")).select_by_visible_text(str(cinema))
    browser.find_element(By.ID, "id_name").send_keys("Sala 4")
    set_number(browser, "id_rows", 4)
    set_number(browser, "id_seats_per_row", 6)
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".le-cell")) == 24)
    screenshot(browser, "empty-grid")

    browser.find_element(By.CSS_SELECTOR, "[data-tool='.']").click()
    browser.find_element(By.CSS_SELECTOR, "button.le-head[data-column='3']").click()
    browser.find_element(By.CSS_SELECTOR, "[data-tool='w']").click()
    browser.find_element(By.CSS_SELECTOR, ".le-cell[data-row='0'][data-column='0']").click()
    summary = browser.find_element(By.CSS_SELECTOR, ".le-summary").text
    assert summary == "20 assentos, 20 à venda."
    a1 = browser.find_element(By.CSS_SELECTOR, ".le-cell[data-row='0'][data-column='0']")
    assert a1.get_attribute("aria-label") == "A1: espaço para cadeira de rodas"
    screenshot(browser, "drawn")

    browser.find_element(By.NAME, "_continue").click()
    wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    screenshot(browser, "saved")

    room = Room.objects.get(name="Sala 4")
    seats = dict(room.seats.values_list("label", "category"))
    assert len(seats) == 20
    assert not any(label.endswith("4") for label in seats)
    assert seats["A1"] == "wheelchair"
    cells = browser.find_elements(By.CSS_SELECTOR, ".le-cell[data-column='3']")
    assert {cell.get_attribute("data-cell") for cell in cells} == {"."}
    drawing = browser.find_element(By.CSS_SELECTOR, ".field-seat_layout")
    browser.execute_script("arguments[0].scrollIntoView()", drawing)
    screenshot(browser, "seat-layout")
    # The browser shows runs of spaces as one.
    assert "[ A1♿] [ A2 ] [ A3 ] [ A5 ] [ A6 ]" in drawing.text
