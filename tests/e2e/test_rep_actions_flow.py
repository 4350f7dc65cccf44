"""The rep-actions story end to end on `make run`'s stack, over real HTTP, with Twilio's REST API
played by a local fake server (LEADCLOCK_TWILIO_API_BASE) and the lead page driven by Debian's
headless Chromium:

a form lead arrives → its first alert reaches the outbox with a signed link → the browser opens
the link and taps Claim → escalation pauses (no breach alert when the step was due) → the browser
taps Call now → Twilio is asked to ring the rep → Twilio's requests for the call (signed with the
twilio library) walk the whisper and the dial → the lead leg's "initiated" callback stops the
clock with the right speed-to-lead, and "answered" records the first connect.

The demo policy (infra/team.demo.yaml, queue inbound) warns at 20 s and breaches at 30 s; the
waits below poll for those with deadlines that only bound a broken run, and nothing asserts how
long anything took.
"""

from __future__ import annotations

import re
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from twilio.request_validator import RequestValidator

from chalicelib.team_file import load_team_file
from tests.browser.conftest import click, javascript_off
from tests.e2e.conftest import ROOT, LocalStack, launch
from tests.providers import FakeTwilio

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DEMO = load_team_file(ROOT / "infra" / "team.demo.yaml")
ACCOUNT_SID = "AC" + "0" * 32
DEADLINE_S = 60.0
T = TypeVar("T")


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def live(twilio: FakeTwilio) -> Iterator[LocalStack]:
    """`make run` with Twilio credentials, its REST calls going to the fake Twilio."""
    with launch(
        {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "LEADCLOCK_TWILIO_API_BASE": twilio.url}
    ) as running:
        yield running


def test_a_claimed_lead_pauses_and_a_bridged_call_stops_the_clock(
    live: LocalStack, twilio: FakeTwilio, browser: webdriver.Chrome, artifacts: Path
) -> None:
    tag = secrets.token_hex(4)
    name = f"Rosa Lind {tag}"
    lead_id = _post_lead(live, name)
    lead = _lead(live, lead_id)
    owner = lead["owner"]
    assert owner, lead

    # The first alert (20 s in) reaches the outbox with the owner's signed link to the page.
    alert = _wait_for(lambda: _alert_with_link(live, name), "the warning alert in the outbox")
    link = re.search(r"https?://\S+/r/[\w.-]+", alert["text"])
    assert link is not None, alert
    # The SMS alert went to Twilio (the fake) with the same link and what to reply.
    texts = [m["Body"] for m in twilio.messages if name in m.get("Body", "")]
    assert texts and "Reply 1 to claim" in texts[0] and "/r/" in texts[0]

    with javascript_off(browser):  # the page must work without it
        browser.get(link.group(0))
        assert name in browser.find_element(By.TAG_NAME, "h1").text
        _tap(browser, "Claim", then="Claimed.")

    claimed = _lead(live, lead_id)
    assert claimed["claimed_by"] == owner
    paused_until = _at(claimed["paused_until"])
    assert _at(claimed["next_step_at"]) >= paused_until > _at(claimed["claimed_at"])
    # Past the breach's own time (30 s), no breach alert: the claim paused the ladder.
    breach_due = _at(lead["sla_due_at"])
    while datetime.now(UTC) < breach_due + timedelta(seconds=2):
        time.sleep(0.2)
    assert not [i for i in _outbox(live) if name in i["text"] and "Breach" in i["subject"]]

    with javascript_off(browser):
        browser.get(link.group(0))
        _tap(browser, "Call now", then="Calling your phone")
        browser.save_screenshot(str(artifacts / "rep-actions-calling.png"))
    call = _wait_for(lambda: _call_to_rep(twilio), "Twilio asked to ring the rep")
    rep = DEMO.rep(owner)
    assert rep is not None and call["To"] == rep.phone
    assert call["From"] == DEMO.alerts.sms_from  # a web lead has no tracking number

    token = live.secrets["TWILIO_AUTH_TOKEN"]
    whisper = _twiml(_twilio_post(token, call["Url"], {"CallSid": "CA" + "1" * 32}))
    gather = whisper.find("Gather")
    assert gather is not None and name in "".join(gather.itertext())
    dial = _twiml(
        _twilio_post(token, gather.attrib["action"], {"CallSid": "CA" + "1" * 32, "Digits": "1"})
    ).find("Dial")
    assert dial is not None
    number = dial.find("Number")
    assert number is not None and number.text == claimed["phone"]
    assert "initiated" in number.attrib["statusCallbackEvent"]

    placed = datetime.now(UTC).replace(microsecond=0)
    lead_leg = {"CallSid": "CA" + "2" * 32, "ParentCallSid": "CA" + "1" * 32}
    initiated = {**lead_leg, "CallStatus": "initiated", "Timestamp": format_datetime(placed)}
    assert _twilio_post(token, number.attrib["statusCallback"], initiated).status_code == 200

    stopped = _lead(live, lead_id)
    started = _at(stopped["clock_started_at"])
    assert _at(stopped["first_response_at"]) == placed
    assert _at(stopped["first_attempt_at"]) == placed
    assert stopped["first_response_by"] == owner
    assert stopped["speed_wall_s"] == pytest.approx((placed - started).total_seconds(), abs=1e-3)
    assert stopped["sla_met"] is False  # 30 s target, answered after the breach time
    assert stopped["next_step"] is None  # nothing more escalates

    answered_at = placed + timedelta(seconds=4)
    answered = {**lead_leg, "CallStatus": "in-progress", "Timestamp": format_datetime(answered_at)}
    _wait_until(answered_at)  # Twilio never reports an event from the future
    assert _twilio_post(token, number.attrib["statusCallback"], answered).status_code == 200
    connected = _lead(live, lead_id)
    assert _at(connected["first_connect_at"]) == answered_at
    assert _at(connected["first_response_at"]) == placed  # speed-to-lead is unchanged


def _post_lead(stack: LocalStack, name: str) -> str:
    reply = requests.post(
        stack.base_url + "/webhooks/forms/website",
        json={
            "name": name,
            "email": f"{name.split()[-1]}@example.com",
            "phone": "+12125550147",
            "message": "Can someone look at my roof this week?",
        },
        headers={"X-Leadclock-Token": stack.secrets["LEADCLOCK_SECRET_WEBSITE"]},
        timeout=10,
    )
    assert reply.status_code in (200, 201), reply.text
    lead_id: str = reply.json()["lead_id"]
    return lead_id


def _lead(stack: LocalStack, lead_id: str) -> dict[str, Any]:
    reply = requests.get(
        f"{stack.base_url}/leads/{lead_id}", headers={"x-api-key": stack.admin_key}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _outbox(stack: LocalStack) -> list[dict[str, Any]]:
    reply = requests.get(
        stack.base_url + "/outbox", headers={"x-api-key": stack.admin_key}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def _alert_with_link(stack: LocalStack, name: str) -> dict[str, Any] | None:
    return next((i for i in _outbox(stack) if name in i["text"] and "/r/" in i["text"]), None)


def _call_to_rep(twilio: FakeTwilio) -> dict[str, str] | None:
    calls = [r for r in twilio.requests if r.path.endswith("/Calls.json")]
    if not calls:
        return None
    form = parse_qs(calls[-1].body.decode())
    return {k: v[-1] for k, v in form.items()}


def _tap(browser: webdriver.Chrome, label: str, *, then: str) -> None:
    """Tap the page's `label` button and wait for the page that says `then`."""
    click(browser, browser.find_element(By.XPATH, f"//button[normalize-space()='{label}']"))
    _wait_for(lambda: _says(browser, then), f"the page after {label}")


def _says(browser: webdriver.Chrome, text: str) -> bool | None:
    """Whether the page shows `text`; None (ask again) while the next page is still loading."""
    try:
        return text in browser.find_element(By.TAG_NAME, "body").text or None
    except WebDriverException:
        # The old page went away under the read (stale node, node not in the document).
        return None


def _twilio_post(token: str, url: str, params: dict[str, str]) -> requests.Response:
    """A request as Twilio makes it: form-encoded, signed over the URL and every parameter."""
    params = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", **params}
    signature = RequestValidator(token).compute_signature(url, params)
    return requests.post(
        url,
        data=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
        timeout=10,
    )


def _twiml(reply: requests.Response) -> ET.Element:
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("text/xml")
    return ET.fromstring(reply.text)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _wait_for(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def _wait_until(moment: datetime) -> None:
    while datetime.now(UTC) < moment:
        time.sleep(0.1)
