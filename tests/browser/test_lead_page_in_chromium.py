"""The lead page in a real browser: headless Chromium on a phone-sized screen with JavaScript
off loads an alert's link, claims the lead with the page's button and sees the page say so."""

from __future__ import annotations

import struct
from datetime import timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from chalicelib.domain.links import grant, sign
from tests.browser.conftest import PIXEL_RATIO, VIEWPORT, click, javascript_off
from tests.functional.conftest import Stack, body_of

pytestmark = pytest.mark.browser

SECRET = "link-secret-for-tests"  # the functional Stack's LEADCLOCK_LINK_SECRET
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _new_lead(stack: Stack) -> tuple[str, str]:
    reply = stack.website({"name": "Kai Moss", "phone": "+14155550165"})
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    owner = stack.lead(lead_id).owner
    assert owner is not None
    return lead_id, owner


def _token(stack: Stack, lead_id: str, rep: str, **kw: timedelta) -> str:
    return sign(grant(lead_id, rep, "open", now=stack.clock.now(), **kw), SECRET)


def _text(browser: webdriver.Chrome) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def _button(browser: webdriver.Chrome, label: str) -> WebElement:
    return browser.find_element(By.XPATH, f"//button[normalize-space()='{label}']")


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (its IHDR chunk comes first)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_rep_claims_the_lead_with_the_pages_button_and_sees_it_claimed(
    stack: Stack, base_url: str, browser: webdriver.Chrome, artifacts: Path
) -> None:
    lead_id, owner = _new_lead(stack)
    stack.clock.advance(seconds=12)
    shot = artifacts / "lead-page-claimed.png"
    shot.unlink(missing_ok=True)  # a screenshot left by an earlier run must not pass for this one

    page = f"{base_url}/r/{_token(stack, lead_id, owner)}"
    with javascript_off(browser):
        browser.get(page)

        assert browser.find_element(By.TAG_NAME, "h1").text == "Kai Moss"
        shown = _text(browser)
        assert "SLA due in 18s" in shown and "Waiting 12s" in shown and "website" in shown
        assert "Claimed by" not in shown
        # Mobile first: the page is the phone's width and the button spans it.
        page_width = browser.find_element(By.TAG_NAME, "html").size["width"]
        assert page_width == VIEWPORT[0]
        claim = _button(browser, "Claim")
        assert claim.size["width"] >= page_width - 40
        assert stack.lead(lead_id).claimed_by is None  # looking changed nothing

        click(browser, claim)
        WebDriverWait(browser, 10).until(expected_conditions.staleness_of(claim))

    shown = _text(browser)
    assert "Claimed. Escalation is paused for you" in shown
    assert "Claimed by you" in shown
    assert "Claim" not in shown.splitlines()  # no button for a second claim of a lead she holds
    assert browser.current_url == page  # the form posted back to the link it came from
    assert stack.lead(lead_id).claimed_by == owner
    assert [t.kind for t in stack.touchpoints(lead_id)].count("claimed") == 1
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank frame
    assert _png_size(shot) == (VIEWPORT[0] * PIXEL_RATIO, VIEWPORT[1] * PIXEL_RATIO)


def test_expired_and_tampered_links_show_the_friendly_refusal_page_and_change_nothing(
    stack: Stack, base_url: str, browser: webdriver.Chrome
) -> None:
    lead_id, owner = _new_lead(stack)
    before = stack.lead(lead_id)
    expired = _token(stack, lead_id, owner, ttl=timedelta(minutes=1))
    stack.clock.advance(minutes=2)
    good = _token(stack, lead_id, owner)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")

    for token, title, advice in (
        (expired, "This link has expired", "Open the lead from a newer alert."),
        (tampered, "This link is not valid", "Use the link from the alert as it came."),
    ):
        with javascript_off(browser):
            browser.get(f"{base_url}/r/{token}")
            assert browser.find_element(By.TAG_NAME, "h1").text == title
            assert advice in _text(browser)
            assert "Kai Moss" not in _text(browser)
            assert browser.find_elements(By.TAG_NAME, "button") == []
    assert stack.lead(lead_id) == before
