"""Real-browser tests of the web console: headless Chromium (Debian ``chromium`` and
``chromium-driver``) driven by Selenium. Missing pieces skip locally and fail under CI=true.

The daemon fixtures are the integration suite's (a real ``radiusd serve`` on SQLite and on
PostgreSQL); ``bash scripts/test.sh`` runs this folder as its own step."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import (  # noqa: F401  (fixtures used by this folder's tests)
    daemon_factory,
    module_db_url,
    radclient,
    unavailable,
)

CHROMIUM = os.environ.get("RADIUSD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RADIUSD_CHROMEDRIVER", "/usr/bin/chromedriver")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (cookies cleared by each test that logs in)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[test]')")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.exists(path) or shutil.which(path)):
            unavailable(f"{path} is missing (Debian package {package})")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=en-US"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
