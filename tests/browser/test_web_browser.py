"""The web console in headless Chromium against a running daemon: a helpdesk operator logs
in, finds a subscriber by the address its session got from real Access/Accounting-Start
packets (radclient), disconnects the session (the pyrad NAS stand-in receives the RFC 5176
Disconnect-Request and ACKs it) and sees the audit entry; a read-only operator has no button
and is refused 403 when it POSTs anyway; a POST without the CSRF token and a planted session
cookie both fail; the pages fit a phone's width.

``RADIUSD_SCREENSHOTS=DIR`` saves the main pages as PNG files there (docs/img/ is made so).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import HOST, DaemonProcess, run_radclient, wait_until
from tests.integration.test_coa_nas import PyradNas
from tests.integration.web_console import (
    ALICE_PASSWORD,
    PASSWORDS,
    SECRET,
    console_url,
    free_port,
    online,
    seed,
)

DISCONNECT_REQUEST = 40
SHOTS = os.environ.get("RADIUSD_SCREENSHOTS")


@pytest.fixture(scope="module")
def nas() -> Iterator[PyradNas]:
    standin = PyradNas(secret=SECRET.encode())
    yield standin
    standin.close()


def _usage(url: str) -> None:
    """30 days of usage for alice (as rolled up from accounting), for the chart."""
    from radiusd.store.engine import create_engine
    from radiusd.store.models import ServiceUsageTracking
    from radiusd.store.tables import core_table

    async def go() -> None:
        engine = create_engine(url)
        today = dt.datetime.now(dt.UTC).date()
        rnd = random.Random(7)
        async with engine.begin() as conn:
            for n in range(1, 30):
                await conn.execute(
                    core_table(ServiceUsageTracking).insert().values(
                        username="alice", day=today - dt.timedelta(days=n), sessions=1, session_time=86400,
                        input_octets=rnd.randint(1, 3) * 10**9, output_octets=rnd.randint(5, 30) * 10**9,
                    )
                )  # fmt: skip
        await engine.dispose()

    asyncio.run(go())


@pytest.fixture(scope="module")
def daemon(
    module_db_url: str, daemon_factory: Callable[..., DaemonProcess], nas: PyradNas, radclient: str
) -> DaemonProcess:
    def prepare(d: DaemonProcess) -> None:
        seed(d, nas.port)
        _usage(d.url)

    d = daemon_factory(module_db_url, args=("--api-bind", f"{HOST}:{free_port()}"), seed=prepare)
    online(d, radclient, "alice", ALICE_PASSWORD, "web-b1", "AA-BB-CC-00-11-22", "ether5")
    online(d, radclient, "bob", "bob-Pw-123", "web-b2", "AA-BB-CC-00-11-33", "ether6")
    return d


@pytest.fixture
def web(browser: Any, daemon: DaemonProcess) -> Any:
    browser.set_window_size(1280, 900)
    browser.get(console_url(daemon) + "/ui/login")
    browser.delete_all_cookies()
    return browser


def by_id(driver: Any, element: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element)


def ids_present(driver: Any, element: str) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_elements(By.ID, element))


def log_in(driver: Any, base: str, name: str) -> None:
    driver.get(base + "/ui/login")
    by_id(driver, "username").send_keys(name)
    by_id(driver, "password").send_keys(PASSWORDS[name])
    by_id(driver, "login").click()
    wait_until(lambda: ids_present(driver, "operator"), 10)
    assert name in by_id(driver, "operator").text


def shot(driver: Any, name: str, width: int = 1280) -> None:
    if not SHOTS:
        return
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 40, 600), 2600))
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))
    driver.set_window_size(1280, 900)


def post_status(driver: Any, body: str) -> int:
    """POST ``body`` to /ui/act from the page (the browser sends its cookie): the status."""
    script = """
        const done = arguments[arguments.length - 1];
        fetch('/ui/act', {method: 'POST', credentials: 'same-origin',
               headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: arguments[0]})
            .then(r => done(r.status)).catch(e => done(String(e)));
    """
    return int(driver.execute_async_script(script, body))


def test_helpdesk_finds_by_address_and_disconnects(web: Any, daemon: DaemonProcess, nas: PyradNas) -> None:
    from selenium.webdriver.common.by import By

    base = console_url(daemon)
    nas.received.clear()  # the stand-in serves the module's daemon on each backend in turn
    log_in(web, base, "hd")
    web.get(base + "/ui/subscribers/alice")
    address = web.find_element(By.CSS_SELECTOR, "a[href^='/ui/ipam/address']").text
    assert address.startswith("100.64.3.")

    web.get(base + "/ui/subscribers")
    by_id(web, "q").send_keys(address)
    by_id(web, "search").click()
    wait_until(lambda: ids_present(web, "results"), 10)
    shot(web, "search")
    web.find_element(By.CSS_SELECTOR, "#results a[href='/ui/subscribers/alice']").click()
    wait_until(lambda: ids_present(web, "subscriber"), 10)
    rows = web.find_elements(By.CSS_SELECTOR, "#sessions tr.session-row")
    assert len(rows) == 1 and "web-b1" in rows[0].text and address in rows[0].text
    shot(web, "subscriber")

    rows[0].find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    by_id(web, "disconnect-selected").click()
    wait_until(lambda: ids_present(web, "confirm"), 10)
    assert not nas.received  # the confirmation step sends nothing
    by_id(web, "confirm").click()
    wait_until(lambda: ids_present(web, "result"), 20)
    assert "disconnected" in by_id(web, "result-lines").text
    sent = [r for r in nas.received if r.code == DISCONNECT_REQUEST]
    assert sent and sent[-1].attributes["Acct-Session-Id"] == ["web-b1"] and sent[-1].authenticator_ok

    by_id(web, "back").click()
    found = wait_until(lambda: ids_present(web, "audit"), 10)
    assert found, (web.current_url, web.page_source[-3000:])
    audit = by_id(web, "audit").text
    assert "hd" in audit and "disconnect" in audit and "ok" in audit


def test_readonly_has_no_buttons_and_is_refused(web: Any, daemon: DaemonProcess) -> None:
    from selenium.webdriver.common.by import By

    base = console_url(daemon)
    log_in(web, base, "ro")
    web.get(base + "/ui/subscribers/bob")
    assert not ids_present(web, "actions") and not ids_present(web, "disconnect-selected")
    assert not web.find_elements(By.CSS_SELECTOR, "#sessions input[type=checkbox]")
    token = web.find_element(By.CSS_SELECTOR, "form.who input[name=csrf]").get_attribute("value")
    assert post_status(web, f"action=suspend&user=bob&csrf={token}") == 403
    web.get(base + "/ui/subscribers/bob")
    assert "active" in by_id(web, "subscriber").text


def test_post_without_csrf_token_fails(web: Any, daemon: DaemonProcess) -> None:
    base = console_url(daemon)
    log_in(web, base, "hd")
    web.get(base + "/ui/subscribers/bob")
    assert post_status(web, "action=suspend&user=bob") == 403
    web.get(base + "/ui/subscribers/bob")
    assert "active" in by_id(web, "subscriber").text


def test_planted_session_cookie_does_not_survive_login(web: Any, daemon: DaemonProcess) -> None:
    base = console_url(daemon)
    planted = "planted-by-an-attacker-0000000000000000000"
    web.get(base + "/ui/login")
    web.add_cookie({"name": "radiusd_ui", "value": planted, "path": "/ui"})
    log_in(web, base, "hd")
    cookie = web.get_cookie("radiusd_ui")
    assert cookie is not None and cookie["value"] != planted and cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    web.delete_all_cookies()
    web.add_cookie({"name": "radiusd_ui", "value": planted, "path": "/ui"})
    web.get(base + "/ui/dashboard")
    assert "/ui/login" in web.current_url


def test_dashboard_shows_request_rates(web: Any, daemon: DaemonProcess, radclient: str) -> None:
    from selenium.webdriver.common.by import By

    base = console_url(daemon)
    log_in(web, base, "root")  # lands on the dashboard: the first sample of the counters
    good = f"User-Name = alice\nUser-Password = {ALICE_PASSWORD}\nMessage-Authenticator = 0x00\n"
    bad = "User-Name = alice\nUser-Password = not-hers\nMessage-Authenticator = 0x00\n"
    for batch in ([good] * 30 + [bad] * 10, [good] * 10):  # a sample of the counters after each
        out = run_radclient(radclient, daemon.auth_port, SECRET, "\n".join(batch))
        assert out.count("Received Access-Accept") + out.count("Received Access-Reject") == len(batch)
        time.sleep(1.1)
        web.get(base + "/ui/dashboard")
    assert out.count("Received Access-Accept") == 10
    tiles = {t.find_element(By.TAG_NAME, "span").text: t.find_element(By.TAG_NAME, "b").text
             for t in web.find_elements(By.CSS_SELECTOR, ".tile")}  # fmt: skip
    assert float(tiles["Access req/s"]) > 0, tiles
    assert "access/reject" in web.page_source
    assert web.find_elements(By.CSS_SELECTOR, ".tile svg.spark polyline")  # the rate over the samples
    shot(web, "dashboard")


def test_admin_pages_and_phone_width(web: Any, daemon: DaemonProcess) -> None:
    base = console_url(daemon)
    log_in(web, base, "root")
    for path, name in (("/ui/audit", "audit"), ("/ui/ipam", "ipam"), ("/ui/sessions", "sessions"),
                       ("/ui/nas", "nas"), ("/ui/inventory", "inventory")):  # fmt: skip
        web.get(base + path)
        assert "radiusd console" in web.title
        shot(web, name)
    web.get(base + "/ui/audit")
    assert "disconnect" in by_id(web, "audit").text  # the first test's action, seen by admin
    web.set_window_size(390, 844)  # a phone
    for path in ("/ui/dashboard", "/ui/subscribers/alice", "/ui/sessions", "/ui/ipam"):
        web.get(base + path)
        overflow = web.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)
    web.get(base + "/ui/subscribers/alice")
    shot(web, "phone-subscriber", width=390)
