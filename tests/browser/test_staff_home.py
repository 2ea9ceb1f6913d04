"""The staff home page and the lists, in a real browser at 1400 px: the day's sessions with
their figures, and list columns that fit the screen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen

from apps.stats.models import SessionStats
from tests.browser.conftest import admin_log_in
from tests.factories import (
    MovieFactory,
    SuperuserFactory,
    UserFactory,
    hold,
    make_sale,
    make_session,
)

OPTIONS = ".select2-results__option[role=option]"
LISTS = [
    "screenings/session",
    "bookings/reservation",
    "payments/sale",
    "payments/ticket",
    "payments/payment",
    "stats/sessionstats",
    "rooms/room",
]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_home_page_and_the_ticket_list_fit_the_screen(browser, live_server, screenshot):
    soon = make_session(starts_at=timezone.now() + timedelta(minutes=40))
    later = make_session(starts_at=timezone.now() + timedelta(days=1))
    make_sale(user=UserFactory(), session=later, seats=3)
    hold(UserFactory(), soon, 2)
    SessionStats.objects.create(session=later, seats_sold=3, revenue=75)
    wait = admin_log_in(browser, live_server.url, SuperuserFactory().email)

    screenshot(browser, "home")
    home = browser.find_element(By.ID, "content-main").text
    assert "Cinema · equipe" in browser.find_element(By.ID, "header").text
    assert "Precisa de atenção" in home
    assert "2 assentos ainda reservados, não pagos" in home
    assert later.movie.title in home

    for path in LISTS:
        browser.get(f"{live_server.url}/admin/{path}/")
        wait.until(seen.presence_of_element_located((By.ID, "result_list")))
        screenshot(browser, path.replace("/", "-"))
        table = browser.find_element(By.ID, "result_list")
        frame = browser.find_element(By.CSS_SELECTOR, "#changelist .results")
        # Nothing cut off: the table is no wider than the room it has on the page.
        assert table.size["width"] <= frame.size["width"], path

    browser.get(f"{live_server.url}/admin/payments/ticket/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 3
    assert f"{later.movie.title} · {later.room.cinema.name} · " in rows[0].text


def test_the_session_filter_searches_as_one_types(browser, live_server, screenshot):
    aurora = MovieFactory(title_pt_br="Aurora", title_en="Aurora")
    wanted = make_session(movie=aurora, starts_at=timezone.now() + timedelta(days=1))
    other = make_session(starts_at=timezone.now() + timedelta(days=2))
    for session in (wanted, other):
        make_sale(user=UserFactory(), session=session)
    wait = admin_log_in(browser, live_server.url, SuperuserFactory().email)

    browser.get(f"{live_server.url}/admin/payments/sale/")
    wait.until(seen.element_to_be_clickable((By.CSS_SELECTOR, ".autocomplete-filter-field")))
    browser.find_element(By.CSS_SELECTOR, ".autocomplete-filter-field .select2-selection").click()
    search = wait.until(
        seen.visibility_of_element_located((By.CSS_SELECTOR, ".select2-search__field"))
    )
    search.send_keys(wanted.movie.title)
    wait.until(seen.invisibility_of_element_located((By.CSS_SELECTOR, ".loading-results")))
    wait.until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, OPTIONS)) == 1)
    option = browser.find_element(By.CSS_SELECTOR, OPTIONS)
    assert wanted.movie.title in option.text
    screenshot(browser, "searching")
    option.click()
    wait.until(seen.url_contains(f"session__id__exact={wanted.pk}"))
    wait.until(seen.presence_of_element_located((By.ID, "result_list")))
    screenshot(browser, "filtered")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert wanted.movie.title in rows[0].text
