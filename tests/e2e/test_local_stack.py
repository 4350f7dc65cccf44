"""The README's local stack over real HTTP: signed providers in, the lead back out."""

from __future__ import annotations

import json
import secrets
import signal
import time
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
import requests
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from chalicelib.team_file import load_team_file
from tests.e2e.conftest import ROOT, LocalStack

DEMO = load_team_file(ROOT / "infra" / "team.demo.yaml")

pytestmark = pytest.mark.e2e

CALLER = "+14155550177"
TRACKING = "+14155550111"  # google-ads / Brand_Search in infra/team.demo.yaml


def _twilio_post(stack: LocalStack, path: str, params: dict[str, str]) -> requests.Response:
    url = stack.base_url + path
    signature = RequestValidator(stack.secrets["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    return requests.post(
        url,
        data=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
        timeout=10,
    )


def _partner_post(stack: LocalStack, body: dict[str, object], msg_id: str) -> requests.Response:
    raw = json.dumps(body)
    stamp = int(time.time())
    from datetime import UTC, datetime

    signature = Webhook(stack.secrets["LEADCLOCK_SECRET_PARTNER"]).sign(
        msg_id, datetime.fromtimestamp(stamp, tz=UTC), raw
    )
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    return requests.post(
        stack.base_url + "/webhooks/forms/partner", data=raw, headers=headers, timeout=10
    )


def _lead(stack: LocalStack, lead_id: str) -> dict[str, object]:
    reply = requests.get(
        f"{stack.base_url}/leads/{lead_id}", headers={"x-api-key": stack.admin_key}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_call_sms_and_signed_form_from_one_person_are_one_lead(stack: LocalStack) -> None:
    call_sid = "CA" + secrets.token_hex(16)
    voice = _twilio_post(
        stack,
        "/webhooks/twilio/voice",
        {
            "CallSid": call_sid,
            "From": CALLER,
            "To": TRACKING,
            "CallStatus": "ringing",
            "FromCity": "",
        },
    )
    assert voice.status_code == 200, voice.text
    assert voice.headers["Content-Type"].startswith("text/xml")
    dialled = ElementTree.fromstring(voice.text).findtext("Dial/Number")

    sms = _twilio_post(
        stack,
        "/webhooks/twilio/sms",
        {"MessageSid": "SM" + secrets.token_hex(16), "From": CALLER, "To": TRACKING, "Body": "hi"},
    )
    assert sms.status_code == 200 and "<Response" in sms.text

    msg_id = "msg_" + secrets.token_hex(8)
    form = {
        "first_name": "Rosa",
        "last_name": "Diaz",
        "phone": CALLER,
        "email": "Rosa.Diaz@Example.com",
        "landing_page": "https://example.com/quote?utm_source=LinkedIn&utm_campaign=LinkedIn_Q3",
    }
    first = _partner_post(stack, form, msg_id)
    assert first.status_code == 200, first.text
    again = _partner_post(stack, form, msg_id)  # the sender retries with the same webhook-id
    assert again.json()["status"] == "duplicate"

    lead = _lead(stack, first.json()["lead_id"])
    assert lead["phone"] == CALLER and lead["email"] == "rosa.diaz@example.com"
    first_touch = lead["first_touch"]
    assert isinstance(first_touch, dict) and first_touch["source"] == "google-ads"
    last_touch = lead["last_touch"]
    assert isinstance(last_touch, dict) and last_touch["campaign"] == "linkedin-q3"
    kinds = [t["kind"] for t in lead["touchpoints"]]  # type: ignore[union-attr]
    assert kinds == ["call_received", "sms_received", "form_submitted"]
    # The call rang the owner it assigned; who that is depends on the reps' working hours at
    # the moment the test runs, so the claim is the match, with the fallback when nobody is on.
    owner = lead["owner"]
    reps = {rep.id: rep.phone for rep in DEMO.reps}
    assert dialled == (reps[owner] if isinstance(owner, str) else "+14155550100")
    assignment = lead["assignment"]
    assert isinstance(assignment, dict) and assignment["queue"] == "inbound"


def test_bad_twilio_signature_is_refused_and_stores_nothing(stack: LocalStack) -> None:
    caller = "+14155550188"
    reply = requests.post(
        stack.base_url + "/webhooks/twilio/sms",
        data=urlencode({"MessageSid": "SM" + secrets.token_hex(16), "From": caller, "Body": "x"}),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl",
        },
        timeout=10,
    )
    assert reply.status_code == 403
    listed = requests.get(
        stack.base_url + "/leads", headers={"x-api-key": stack.admin_key}, timeout=10
    ).json()
    assert all(x["phone"] != caller for x in listed["leads"])


def test_leads_are_not_readable_without_the_admin_key(stack: LocalStack) -> None:
    reply = requests.get(stack.base_url + "/leads", timeout=10)
    assert reply.status_code == 401
    assert reply.json()["Code"] == "unauthorized"


def test_ctrl_c_stops_the_stack_cleanly(stack: LocalStack) -> None:
    # Runs last in this module (pytest keeps file order): it stops the session's stack.
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=30) == 0
    assert any("leadclock stopped." in line for line in stack.output)
