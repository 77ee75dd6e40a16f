"""The web app in a real browser: `peerpath serve` started on 127.0.0.1 on a copy of the demo,
driven through Debian's headless Chromium and its chromedriver (Selenium; nothing downloads a
browser). The flows a coordinator and a trainer use, the refusals (on PostgreSQL too: another
affiliate's peer by URL), and a phone-sized window.
Screenshots go to the test's folder, or to $PEERPATH_SCREENSHOTS when set (docs/screenshots
were made that way)."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import DEMO_TODAY
from peerpath.core import ROLES, Tracker

PASSWORD = "browser test password"
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromedriver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(demo_db, tmp_path):
    """`peerpath serve` on the demo copy, as a separate process; its base URL."""
    tracker = Tracker(db=demo_db)
    tracker.begin_command()
    for role in ROLES:
        tracker.set_password(role, PASSWORD)
    tracker.end_command()
    with serving(demo_db, tmp_path) as base:
        yield base


@contextlib.contextmanager
def serving(db, tmp_path):
    """`peerpath serve` on database `db` (a file or a postgresql:// URL) in a process of its own,
    until the block ends; its base URL."""
    port = free_port()
    peerpath = Path(sys.executable).with_name("peerpath")
    env = {**os.environ, "PEERPATH_DB": str(db), "PEERPATH_TODAY": DEMO_TODAY}
    log = open(tmp_path / "serve.log", "w")
    process = subprocess.Popen([str(peerpath), "serve", "--port", str(port)], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        _wait_for(port, process, tmp_path / "serve.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_for(port, process, log_path, seconds=30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"peerpath serve exited: {log_path.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"peerpath serve did not listen on {port} within {seconds} s: {log_path.read_text()}")


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium; the run fails (never skips) when the Debian packages are missing."""
    missing = [path for path in CHROMIUM if not shutil.which(path)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install Debian's chromium and chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM[0]
    # No GPU and none of Chromium's own network traffic (updates, sync, QUIC): the machine's network
    # is closed, and the refused connections and lookups made the browser stall or crash under load.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMIUM[1]))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("PEERPATH_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def save(driver, name):
        path = folder / f"{name}.png"
        assert driver.save_screenshot(str(path)), name
        assert path.stat().st_size > 1000
        return path

    return save


def sign_in(driver, base, name, password=PASSWORD):
    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    submit(driver, "Sign in")


def fill(driver, values: dict) -> None:
    for field_id, value in values.items():
        element = driver.find_element(By.ID, field_id)
        if element.tag_name == "select":  # by the option's value, else by its text
            choice = Select(element)
            values = [option.get_attribute("value") for option in choice.options]
            choice.select_by_value(value) if value in values else choice.select_by_visible_text(value)
        else:
            element.clear()
            element.send_keys(value)


def submit(driver, button_text: str) -> None:
    """Press the button and wait for the page it leads to (not reading the old one's messages)."""
    old_page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.XPATH, f"//button[normalize-space()='{button_text}']").click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old_page))


def flash(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, ".flash").text


def test_a_coordinator_and_a_trainer_take_a_peer_from_prospect_to_certified_leader(server, browser, shots,
                                                                                   demo_db, tmp_path):
    sign_in(browser, server, "coordinator")
    assert browser.find_element(By.TAG_NAME, "h1").text == "What needs attention"
    shots(browser, "dashboard")
    browser.get(f"{server}/peers")
    fill(browser, {"a-name": "Lena Ortiz", "a-email": "lena@example.org", "a-community": "Cicero",
                   "a-lived_experience": "self", "a-on": "2025-12-20"})
    submit(browser, "Add peer")
    assert flash(browser).startswith("Added P")
    peer_id = browser.find_element(By.TAG_NAME, "h1").text.split()[0]
    submit(browser, "Move to contacted")
    assert flash(browser) == f"{peer_id} Lena Ortiz is now contacted."
    fill(browser, {"e-program": "peer_to_peer", "e-on": "2026-01-01"})
    submit(browser, "Enrol")
    assert flash(browser) == f"Enrolled {peer_id} in peer_to_peer."

    sign_in(browser, server, "trainer")
    for step, values in (("affiliate_interview", {"r-outcome": "passed", "r-on": "2026-01-05"}),
                         ("fidelity_agreement", {"r-on": "2026-01-06"}), ("online_course", {"r-on": "2026-01-10"}),
                         ("trainer_interview", {"r-outcome": "passed", "r-on": "2026-01-20"}),
                         ("training", {"r-on": "2026-02-01", "r-until": "2026-02-02"})):
        browser.get(f"{server}/peers/{peer_id}")
        Select(browser.find_element(By.ID, "r-step")).select_by_value(f"peer_to_peer:{step}")
        fill(browser, values)
        submit(browser, "Record")
        assert f"{step} for {peer_id}" in flash(browser)
    shots(browser, "peer")
    browser.get(f"{server}/leaders")
    Select(browser.find_element(By.ID, "l-status")).select_by_visible_text("certified")
    submit(browser, "Filter")
    assert f"{peer_id} Lena Ortiz" in browser.find_element(By.ID, "leaders").text
    statuses = {s.peer.id: s.status for s in Tracker(db=demo_db, today=DEMO_TODAY).leaders()}
    assert statuses[peer_id] == "certified"
    assert Tracker(db=demo_db).audit(peer_id)[-1].actor == "trainer"


def test_a_trainer_scores_an_observation_from_the_checklist(server, browser, shots, demo_db):
    tracker = Tracker(db=demo_db, today=DEMO_TODAY)
    offering = next(o for o in tracker.offerings() if o.program == "connection" and o.status == "running")
    before = len(tracker.observations())
    sign_in(browser, server, "trainer")
    browser.get(f"{server}/offerings")
    browser.find_element(By.CSS_SELECTOR, f"a[href='/offerings/{offering.id}/observe']").click()
    fill(browser, {"o-observer": "Trainer T", "o-on": "2026-11-30"})
    for fieldset in browser.find_elements(By.TAG_NAME, "fieldset"):
        fieldset.find_elements(By.CSS_SELECTOR, "input[type=radio]")[0].click()  # yes, or 1 of 5
    shots(browser, "observation")
    submit(browser, "Score")
    assert flash(browser).startswith("Observation F")
    assert len(Tracker(db=demo_db).observations()) == before + 1


def test_a_coordinator_imports_a_sheet_through_the_preview_and_opens_a_chart(server, browser, shots, demo_db,
                                                                             tmp_path):
    sheet = tmp_path / "volunteers.csv"
    sheet.write_text("Name,Email,Community\nIva Novak,iva@example.org,Berwyn\nJon Park,,Aurora\n")
    before = len(Tracker(db=demo_db).peers())
    sign_in(browser, server, "coordinator")
    browser.get(f"{server}/import")
    browser.find_element(By.ID, "i-file").send_keys(str(sheet))
    submit(browser, "Preview")
    assert "Would import 2 peer(s)" in browser.find_element(By.ID, "would-import").text
    shots(browser, "import-preview")
    assert len(Tracker(db=demo_db).peers()) == before
    submit(browser, "Confirm the import")
    assert flash(browser) == "Imported 2 peer(s)."
    assert len(Tracker(db=demo_db).peers()) == before + 2
    browser.get(f"{server}/reports/funnel")
    assert browser.find_elements(By.CSS_SELECTOR, "svg") and browser.find_elements(By.CSS_SELECTOR, "table")
    shots(browser, "funnel")


def test_the_refusals_a_browser_meets(server, browser, demo_db):
    sign_in(browser, server, "coordinator", "not the password")
    assert "Wrong name or password" in browser.find_element(By.CSS_SELECTOR, ".flash.error").text
    sign_in(browser, server, "coordinator")
    browser.get(f"{server}/peers")
    before = len(Tracker(db=demo_db).peers())
    browser.execute_script("document.querySelector(\"form[action='/peers/add'] input[name=csrf_token]\").remove()")
    fill(browser, {"a-name": "No Token"})
    submit(browser, "Add peer")
    assert "security token" in browser.find_element(By.CSS_SELECTOR, ".flash.error").text
    browser.get(f"{server}/peers/P9999")  # an id this database does not hold
    assert "404" in browser.find_element(By.TAG_NAME, "h1").text

    sign_in(browser, server, "viewer")
    browser.get(f"{server}/peers/P0001")
    assert not browser.find_elements(By.XPATH, "//button[normalize-space()='Enrol']")
    # A viewer forging the coordinator's form (with their own valid token) is refused by the server.
    browser.execute_script(
        "const f = document.createElement('form'); f.method = 'post'; f.action = '/peers/add';"
        "const t = document.querySelector('input[name=csrf_token]').cloneNode(); f.appendChild(t);"
        "const n = document.createElement('input'); n.name = 'name'; n.value = 'Forged'; f.appendChild(n);"
        "document.body.appendChild(f); f.submit();")
    WebDriverWait(browser, 30).until(lambda driver: "/peers/add" in driver.current_url)
    assert "403" in browser.find_element(By.TAG_NAME, "h1").text
    assert len(Tracker(db=demo_db).peers()) == before


def test_on_a_phone_the_pages_fit_and_the_forms_have_labels(server, browser, shots):
    browser.set_window_size(390, 844)
    sign_in(browser, server, "coordinator")
    for url in ("/", "/peers", "/peers/P0027", "/leaders", "/reports/capacity", "/offerings", "/activities"):
        browser.get(f"{server}{url}")
        # Measured once the page and its stylesheet are in, in one script: one layout, not two.
        WebDriverWait(browser, 30).until(lambda driver: driver.execute_script(
            "return document.readyState === 'complete' && document.styleSheets.length > 0"))
        width, viewport, wide = browser.execute_script(
            "const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >"
            " window.innerWidth + 1 && !(e.parentElement && e.parentElement.closest('.scroll')))"
            ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5);"
            " return [document.documentElement.scrollWidth, window.innerWidth, wide]")
        assert width <= viewport, f"{url} is {width} px wide in a {viewport} px window: {wide}"
        for field in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), select, textarea"):
            field_id = field.get_attribute("id")
            labelled = field_id and browser.find_elements(By.CSS_SELECTOR, f"label[for='{field_id}']")
            assert labelled or field.find_elements(By.XPATH, "ancestor::label"), f"{url}: {field_id} has no label"
    browser.get(f"{server}/peers/P0027")
    shots(browser, "phone-peer")


def test_on_postgresql_another_affiliates_peer_by_url_is_not_found(pg_url, run, browser, tmp_path, monkeypatch):
    """Two affiliates in one PostgreSQL database (tests/test_postgres_affiliates.py's): the app
    served for A's coordinator login shows A's peers; B's third peer, typed into the address
    bar, is a 404 that names nobody of B."""
    from test_postgres_affiliates import Affiliates

    monkeypatch.setenv("PEERPATH_TODAY", DEMO_TODAY)
    two = Affiliates(pg_url, run)
    tracker = Tracker(db=two.url(two.coord_a))
    tracker.begin_command()
    tracker.add_user("coordinator", "coordinator", PASSWORD)
    tracker.end_command()
    with serving(two.url(two.coord_a), tmp_path) as base:
        sign_in(browser, base, "coordinator")
        browser.get(f"{base}/peers")
        listed = browser.find_element(By.TAG_NAME, "main").text
        assert "Ana Alvarez" in listed and "Ben Brook" in listed and "Lake" not in listed
        browser.get(f"{base}/peers/P0003")  # only B holds a third peer
        page = browser.find_element(By.TAG_NAME, "main").text
        assert "404" in browser.find_element(By.TAG_NAME, "h1").text and "unknown peer 'P0003'" in page
        assert "Lake" not in browser.page_source
