"""The digest email as a phone shows it: GET /digests/preview (the email's own HTML) opened in
headless Chromium on a phone-sized screen, checked, and screenshotted to
.artifacts/browser/digest-email.png for a person to look at."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.common.by import By

from chalicelib.domain.facts import LeadFact
from chalicelib.domain.model import Attribution, Lead
from chalicelib.ports import AlertRecord
from tests.browser.conftest import VIEWPORT
from tests.functional.conftest import ADMIN_KEY, Stack

SUNDAY_8AM = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)  # 08:00 in New York
SATURDAY = date(2026, 11, 21)
FRIDAY = date(2026, 11, 20)


def _lead(stack: Stack, lead_id: str, name: str) -> None:
    touch = Attribution(source="website", channel="form")
    stack.store.leads[lead_id] = Lead(
        lead_id, SUNDAY_8AM, SUNDAY_8AM, touch, touch, name=name, queue="inbound"
    )


def _fact(lead_id: str, at: datetime, speed_min: float | None, **changes: Any) -> LeadFact:
    """A lead with a 5-minute SLA, answered after `speed_min` minutes (None: still waiting)."""
    fields: dict[str, Any] = {"source": "website", "queue": "inbound", "owner": "ana"}
    fields["due_at"] = at + timedelta(minutes=5)
    if speed_min is not None:
        fields["responded_at"] = at + timedelta(minutes=speed_min)
        fields["speed_wall_s"] = speed_min * 60
        fields["sla_met"] = speed_min <= 5
    return LeadFact(lead_id=lead_id, created_at=at, **(fields | changes))


def _busy_saturday(stack: Stack) -> None:
    """A day with answered leads, breaches (answered late and still waiting), an unassigned
    lead and an alert that failed; and a calmer Friday to compare with."""
    stack.clock.current = SUNDAY_8AM

    def sat(hour: int) -> datetime:
        return datetime(2026, 11, 21, hour, 0, tzinfo=UTC)

    saturday = [
        _fact("ld_1", sat(14), 2, stage="sql"),
        _fact("ld_2", sat(14), 3.5, owner="ben", claimed_by="ben"),
        _fact("ld_3", sat(15), 41, owner="ben"),
        _fact("ld_4", sat(16), None, owner="carmen", source="google-ads"),
        _fact("ld_5", sat(17), None, owner=None, source="typeform"),
        _fact("ld_6", sat(18), 1, source="google-ads", stage="won"),
        _fact("ld_7", sat(20), 4, owner="carmen", claimed_by="ana"),
        _fact("ld_8", sat(21), 12, source="yard-signs"),
    ]
    stack.store.fact_rows[SATURDAY] = {f.lead_id: f for f in saturday}
    friday = [_fact(f"ld_f{n}", sat(15 + n) - timedelta(days=1), 2) for n in range(5)]
    stack.store.fact_rows[FRIDAY] = {f.lead_id: f for f in friday}
    names = {"ld_3": "Jane Doe", "ld_4": "Bob Builder", "ld_5": "Zoë Kim", "ld_8": "Priya Raman"}
    for lead_id, name in names.items():
        _lead(stack, lead_id, name)
    failed_at = sat(16) + timedelta(minutes=5)
    alert = AlertRecord(
        lead_id="ld_4",
        key="1:carmen:sms",
        step=1,
        step_name="breach",
        recipient="carmen",
        channel="sms",
        to="+14155550135",
        status="failed",
        due_at=failed_at,
        created_at=failed_at,
        error="21610: the number opted out",
    )
    stack.alerts.finish(alert)


@contextmanager
def _admin_key(browser: webdriver.Chrome) -> Iterator[None]:
    """Every request the browser makes carries the admin key, as a manager's tool would."""
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"x-api-key": ADMIN_KEY}})
    try:
        yield
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
        browser.execute_cdp_cmd("Network.disable", {})


def test_the_digest_email_reads_on_a_phone_and_loads_nothing_from_outside(
    stack: Stack, base_url: str, browser: webdriver.Chrome, artifacts: Path
) -> None:
    shot = artifacts / "digest-email.png"
    shot.unlink(missing_ok=True)  # a screenshot left by an earlier run must not pass for this one
    _busy_saturday(stack)

    with _admin_key(browser):
        browser.get(f"{base_url}/digests/preview?period=daily:2026-11-21")

    assert browser.title.startswith("[leadclock] Daily digest: Acme Roofing, Sat 21 Nov 2026")
    page = browser.find_element(By.TAG_NAME, "body").text
    for seen in (
        "Sat 21 Nov 2026",
        "Breaches (4), most late first",
        "Bob Builder",
        "not contacted",
        "contacted since",
        "By rep",
        "By source",
        "Unassigned leads (1)",
        "Alerts that reached nobody (1)",
        "21610: the number opted out",
    ):
        assert seen in page, seen
    # One column that fits the phone: nothing scrolls sideways.
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= VIEWPORT[0]
    # The bars are drawn: coloured cells with a width, the longest the slowest rep's.
    bars = browser.find_elements(By.CSS_SELECTOR, 'td[height="10"]')
    assert len(bars) >= 4 and all(bar.size["width"] > 0 for bar in bars)
    # A mail client shows exactly this: no stylesheet, image or font is fetched (the browser's
    # own favicon request aside).
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert [url for url in fetched if not url.endswith("/favicon.ico")] == []

    height = browser.execute_script("return document.documentElement.scrollHeight")
    capture = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": VIEWPORT[0], "height": height, "scale": 1},
        },
    )
    shot.write_bytes(base64.b64decode(capture["data"]))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
