"""A headless Chromium (Debian's `chromium` and `chromedriver`, which `.ci/run` installs) driven
over WebDriver against a live server of the app, as a person uses the pages. Every test saves
screenshots under BROWSER_SCREENSHOTS (default `test-artifacts/screenshots/`, which CI keeps)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT_SECONDS = 10


@pytest.fixture(scope="session")
def browser_session():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            "Chromium is not installed: the Debian packages chromium and chromium-driver "
            "(.ci/run installs them where apt-get can)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--lang=pt-BR",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "pt-BR,pt"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(browser_session) -> Iterator:
    """The shared browser, with no cookies left from the previous test."""
    browser_session.delete_all_cookies()
    yield browser_session
    browser_session.delete_all_cookies()


@pytest.fixture
def screenshot(request):
    """`screenshot(driver, "step")` saves <test name>-<nn>-<step>.png and returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    taken = []

    def take(driver, step: str) -> Path:
        taken.append(step)
        path = SCREENSHOTS / f"{request.node.name}-{len(taken):02d}-{step}.png"
        driver.save_screenshot(str(path))
        return path

    return take


def replaced(page):
    """A wait condition: true once `page` (an element of the old document) has left the
    document. Selenium's `staleness_of` only knows the "stale element" answer; while a new page
    is committing, Chrome may instead answer "Node with given id does not belong to the
    document", which means the same thing."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def gone(_driver) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
        return False

    return gone


def admin_log_in(browser, base: str, email: str):
    """Log in to the admin as `email` (the factories' password) and wait for the page after the
    login: the login page has a #content-main of its own, so waiting for one is not enough."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.factories import PASSWORD

    wait = WebDriverWait(browser, WAIT_SECONDS)
    browser.get(f"{base}/admin/login/")
    wait.until(seen.presence_of_element_located((By.NAME, "username")))
    browser.find_element(By.NAME, "username").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(replaced(page))
    wait.until(seen.presence_of_element_located((By.ID, "content-main")))
    return wait
