"""A staff member's day in the admin, in a real browser: a room drawn in the layout editor, a
movie and a session entered in the cinema's own time, read back in local time everywhere, a
price corrected before the first hold, and a session with a sale cancelled through its
confirmation page."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from apps.catalog.models import Movie
from apps.rooms.models import Room
from apps.sessions.models import Session
from tests.browser.conftest import admin_log_in, replaced
from tests.factories import (
    CinemaFactory,
    StaffFactory,
    UserFactory,
    make_sale,
    make_session,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ZONE = "America/Sao_Paulo"  # UTC-3 all year


def submit(browser, wait: WebDriverWait, button) -> None:
    """Click a button that loads a new page, and wait until the old one is gone."""
    page = browser.find_element(By.TAG_NAME, "html")
    button.click()
    wait.until(replaced(page))


def present(wait: WebDriverWait, selector: str):
    return wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, selector)))


def success_message(browser, wait: WebDriverWait) -> str:
    return wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, ".messagelist"))).text


def test_staff_enter_correct_and_cancel_sessions_in_local_time(browser, live_server, screenshot):
    staff = StaffFactory()
    cinema = CinemaFactory(name="Cine Paulista", timezone=ZONE)
    wait = admin_log_in(browser, live_server.url, staff.email)

    # A room of 4 rows of 5 seats, drawn in the layout editor.
    browser.get(f"{live_server.url}/admin/rooms/room/add/")
    present(wait, ".le-grid")
    Select(browser.find_element(By.ID, "id_cinema")).select_by_value(str(cinema.pk))
    browser.find_element(By.ID, "id_name").send_keys("Sala 1")
    for field, value in (("id_rows", "4"), ("id_seats_per_row", "5")):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value, Keys.TAB)  # redraws the grid
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".le-cell")) == 20)
    screenshot(browser, "room-grid")
    submit(browser, wait, browser.find_element(By.NAME, "_save"))
    success_message(browser, wait)
    room = Room.objects.get(cinema=cinema, name="Sala 1")
    assert room.seats.count() == 20

    # A movie.
    browser.get(f"{live_server.url}/admin/catalog/movie/add/")
    wait.until(seen.presence_of_element_located((By.NAME, "title_pt_br")))
    browser.find_element(By.NAME, "title_pt_br").send_keys("Filme X")
    browser.find_element(By.NAME, "duration_minutes").send_keys("100")
    screenshot(browser, "movie-form")
    submit(browser, wait, browser.find_element(By.NAME, "_save"))
    success_message(browser, wait)
    assert Movie.objects.filter(title_pt_br="Filme X").exists()

    # A session at 19:30 in the cinema's time, a week ahead.
    day = (timezone.now() + timedelta(days=7)).astimezone(timezone.get_fixed_timezone(-180))
    browser.get(f"{live_server.url}/admin/screenings/session/add/")
    wait.until(seen.presence_of_element_located((By.NAME, "price")))
    browser.find_element(By.CSS_SELECTOR, ".select2-selection").click()
    search = present(wait, ".select2-search__field")
    search.send_keys("Filme X")
    present(wait, ".select2-results__option--highlighted")
    search.send_keys(Keys.ENTER)
    Select(browser.find_element(By.NAME, "room")).select_by_value(str(room.pk))
    date_field = browser.find_element(By.NAME, "starts_at_0")
    date_field.clear()
    date_field.send_keys(day.strftime("%d/%m/%Y"))
    time_field = browser.find_element(By.NAME, "starts_at_1")
    time_field.clear()
    time_field.send_keys("19:30:00")
    browser.find_element(By.NAME, "price").send_keys("25,00")
    screenshot(browser, "session-form")
    submit(browser, wait, browser.find_element(By.NAME, "_save"))
    message = success_message(browser, wait)
    screenshot(browser, "session-saved")
    session = Session.objects.get(movie__title_pt_br="Filme X")
    # Stored in UTC (22:30), read in the cinema's time (19:30) by a person.
    assert session.starts_at.astimezone(UTC).strftime("%H:%M") == "22:30"
    assert session.price == Decimal("25.00")  # "25,00" as a person in Brazil types it
    assert "19:30" in message
    assert "22:30" not in message
    listed = browser.find_element(By.ID, "result_list").text
    assert "19:30" in listed
    assert "22:30" not in listed

    # The price corrected before anyone held a seat.
    browser.get(f"{live_server.url}/admin/screenings/session/{session.pk}/change/")
    price = wait.until(seen.presence_of_element_located((By.NAME, "price")))
    assert "19:30" in browser.find_element(By.TAG_NAME, "h2").text + browser.title
    price.clear()
    price.send_keys("30,00")
    submit(browser, wait, browser.find_element(By.NAME, "_save"))
    success_message(browser, wait)
    session.refresh_from_db()
    assert session.price == Decimal("30.00")

    # Another session with a sale, cancelled: a confirmation first, then the result.
    sold = make_session(room=room, starts_at=timezone.now() + timedelta(days=9))
    make_sale(user=UserFactory(), session=sold, seats=2)
    browser.get(f"{live_server.url}/admin/screenings/session/")
    wait.until(seen.presence_of_element_located((By.ID, "result_list")))
    browser.find_element(By.CSS_SELECTOR, f"[name=_selected_action][value='{sold.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("cancel_sessions")
    submit(browser, wait, browser.find_element(By.NAME, "index"))
    confirmation = wait.until(seen.presence_of_element_located((By.ID, "content-main"))).text
    screenshot(browser, "cancel-confirmation")
    assert "2" in confirmation
    sold.refresh_from_db()
    assert sold.status == Session.Status.SCHEDULED  # nothing happens before the confirmation
    submit(browser, wait, browser.find_element(By.CSS_SELECTOR, "#content-main input[type=submit]"))
    message = success_message(browser, wait)
    screenshot(browser, "cancelled")
    sold.refresh_from_db()
    assert sold.status == Session.Status.CANCELLED
    assert "2" in message
