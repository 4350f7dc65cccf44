"""The SLA board in a real browser: headless Chromium sized as a wall screen, with JavaScript
off, opens a wall-screen link made by POST /board/link and shows the waiting leads with their
countdowns, today's breach and the reps' statuses, in two columns of large type."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.browser.conftest import PIXEL_RATIO, VIEWPORT, javascript_off
from tests.functional.conftest import ADMIN_KEY, JSON, PUBLIC_BASE_URL, TEAM, Stack, body_of

pytestmark = pytest.mark.browser

WALL = (1920, 1080)  # a 1080p screen, one CSS pixel per pixel
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@contextmanager
def wall_screen(browser: webdriver.Chrome) -> Iterator[None]:
    """The browser as a landscape desktop screen until the block ends, then the phone again
    (the size conftest's `browser` emulates), so other tests of the module see a phone."""
    width, height = WALL
    wall = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", wall)
    try:
        yield
    finally:
        phone_width, phone_height = VIEWPORT
        phone = {
            "width": phone_width,
            "height": phone_height,
            "deviceScaleFactor": PIXEL_RATIO,
            "mobile": True,
        }
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)


def _new_lead(stack: Stack, name: str, phone: str) -> str:
    reply = stack.website({"name": name, "phone": phone})
    assert reply.status_code == 201, reply.body
    owner = stack.lead(body_of(reply)["lead_id"]).owner
    assert owner is not None
    return owner


def _admin_post(stack: Stack, path: str, body: bytes = b"") -> dict[str, str]:
    reply = stack.post(path, body, {"Content-Type": JSON, "x-api-key": ADMIN_KEY})
    assert reply.status_code in (200, 201), reply.body
    result: dict[str, str] = body_of(reply)
    return result


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (its IHDR chunk comes first)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _row_text(browser: webdriver.Chrome, rep_id: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f'tr[data-rep="{rep_id}"]').text


def test_a_wall_screen_shows_waiting_leads_a_breach_and_rep_statuses(
    stack: Stack, base_url: str, browser: webdriver.Chrome, artifacts: Path
) -> None:
    first_owner = _new_lead(stack, "Kai Moss", "+14155550165")
    stack.clock.advance(seconds=45)  # Kai's 30-second SLA is missed
    second_owner = _new_lead(stack, "Noor Haddad", "+14155550166")
    stack.clock.advance(seconds=5)
    _admin_post(stack, "/admin/reps/carmen/pause")
    link = _admin_post(stack, "/board/link", json.dumps({"days": 90}).encode())
    shot = artifacts / "board.png"
    shot.unlink(missing_ok=True)  # a screenshot left by an earlier run must not pass for this one

    with javascript_off(browser):
        browser.get(base_url + link["url"].removeprefix(PUBLIC_BASE_URL))
        _on_the_wall(browser, shot, first_owner, second_owner)

    assert shot.stat().st_size > 20_000  # a rendered page, not a blank frame
    assert _png_size(shot) == WALL


def _on_the_wall(
    browser: webdriver.Chrome, shot: Path, first_owner: str, second_owner: str
) -> None:
    """What the loaded board shows on a wall screen; its screenshot goes to `shot`."""
    # The screen changes after loading: chromedriver's phone emulation is applied again on
    # each navigation, over any size set before it. The page lays itself out again, unloaded.
    with wall_screen(browser):
        assert "SLA board" in browser.find_element(By.TAG_NAME, "h1").text
        refresh = browser.find_element(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]')
        assert refresh.get_attribute("content") == "30"
        assert "as of 09:00 (America/New_York)" in browser.find_element(By.ID, "as-of").text

        leads = browser.find_elements(By.CSS_SELECTOR, "#waiting li.lead")
        assert [li.get_attribute("class") for li in leads] == ["lead missed", "lead due_soon"]
        kai, noor = (li.text for li in leads)
        assert "Kai Moss" in kai and "missed by 20s" in kai and _name(first_owner) in kai
        assert "Noor Haddad" in noor and "due in 25s" in noor and _name(second_owner) in noor
        breaches = browser.find_elements(By.CSS_SELECTOR, "#breaches li.breach")
        assert len(breaches) == 1 and "still waiting, 20s over" in breaches[0].text

        assert "Paused" in _row_text(browser, "carmen")
        assert "Out of office until Mon 4 Jan" in _row_text(browser, "dev")
        owners = {first_owner, second_owner}  # one rep twice if the rotation says so
        assert sum(int(_row_text(browser, o).split()[-1]) for o in owners) == 2

        # A wall screen: the team sits beside the leads, in type readable across a room.
        page_width = browser.find_element(By.TAG_NAME, "html").size["width"]
        assert page_width == WALL[0]
        reps_x = browser.find_element(By.ID, "reps").location["x"]
        assert reps_x > page_width / 2
        clock = leads[0].find_element(By.CLASS_NAME, "clock")
        assert float(clock.value_of_css_property("font-size").removesuffix("px")) >= 28
        browser.save_screenshot(str(shot))


def _name(rep_id: str) -> str:
    rep = TEAM.rep(rep_id)
    assert rep is not None
    return rep.name
