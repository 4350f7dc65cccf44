"""Browser tests: the real Chalice app over real HTTP on 127.0.0.1, driven by Debian's headless
Chromium through chromedriver (both installed by `make test`, see infra/install-browser.sh).
Tests elsewhere may import `browser` and `artifacts` as fixtures.

The app is wired to the functional tests' fakes (tests/functional/conftest.py's Stack), so a test
sets up leads and reads the store directly while the browser only sees HTTP.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from chalice.config import Config
from chalice.local import LocalDevServer, create_local_server
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webelement import WebElement

from app import app
from chalicelib import wiring
from tests.functional.conftest import Stack

# Selenium Manager would download a driver it cannot find. It is never asked (the Service names
# Debian's chromedriver), and told to stay offline should anything ask it anyway.
os.environ["SE_OFFLINE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "browser"  # git-ignored: screenshots for a human to look at
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# A phone held upright (an iPhone 14's CSS pixels); alerts are read on phones.
VIEWPORT = (390, 844)
PIXEL_RATIO = 2
# Without the background-networking flags Chromium keeps calling Google's services, which on a
# closed network only floods it; a fresh profile keeps one run from leaking into the next.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
)


def _require_browser() -> None:
    """Fail under CI (where `make test` installed the browser, so a missing one is a bug) and
    skip elsewhere, saying how to install it."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    reason = f"{', '.join(missing)} missing: run `make browser` (Debian's chromium packages)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The app served by `chalice local`'s server (as `make run` serves it) on a free port, in a
    thread. Every request reads the container installed at that moment, so each test's Stack
    is what the browser talks to."""
    # create_local_server gives the app object a thread-safe class for serving; the rest of the
    # session (chalice.test.Client) gets the app back as it was.
    original = app.__class__
    server: LocalDevServer = create_local_server(
        app, Config.create(app_name="leadclock"), "127.0.0.1", 0
    )
    # The browser keeps connections open; daemon handler threads let close() return anyway.
    server.server.daemon_threads = True
    thread = threading.Thread(
        target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    host, port = server.server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
        app.__class__ = original


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Headless Chromium on a phone-sized screen. JavaScript is on, so `element.click()` works;
    a test of a page that must work without it wraps itself in `javascript_off`."""
    _require_browser()
    work = tmp_path_factory.mktemp("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={work / 'profile'}")
    width, height = VIEWPORT
    metrics = {"width": width, "height": height, "pixelRatio": PIXEL_RATIO, "mobile": True}
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(work / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    # A hung browser fails the test in seconds instead of stalling the suite.
    _command_timeout(driver, 30)
    try:
        driver.set_page_load_timeout(15)
        yield driver
    finally:
        # quit() after a hung command would wait the full timeout on each of its retries.
        _command_timeout(driver, 5)
        driver.quit()


def _command_timeout(driver: webdriver.Chrome, seconds: int) -> None:
    connection = driver.command_executor
    assert isinstance(connection, RemoteConnection)
    connection.client_config.timeout = seconds


@contextmanager
def javascript_off(driver: webdriver.Chrome) -> Iterator[None]:
    """No script runs in the page until the block ends; checked, since a test's claim that a
    page works without JavaScript rests on it. Inside, click with `click`, not
    `element.click()`, which would hang (see `click`)."""
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        driver.get("data:text/html,<title>off</title><script>document.title='on'</script>")
        assert driver.title == "off", "JavaScript is still on in the test browser"
        yield
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def click(driver: webdriver.Chrome, element: WebElement) -> None:
    """Press and release the mouse on the middle of `element`, as a finger would.

    Not `element.click()`: after clicking, chromedriver waits on a page timer, which never
    fires with JavaScript off, so it would hang. These are the same input events, sent through
    DevTools without that wait; the caller waits for the page it expects."""
    box = element.rect
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for kind in ("mousePressed", "mouseReleased"):
        event = {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", event)


@pytest.fixture
def stack() -> Iterator[Stack]:
    """The app on fakes (an empty store, a FakeClock at T0, the demo team); the real container
    comes back after."""
    try:
        yield Stack()
    finally:
        wiring.use(None)


@pytest.fixture
def artifacts() -> Path:
    """The folder screenshots are written to."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
