"""Functional tests: the Chalice app through chalice.test.Client, every port a fake."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from chalice.test import Client, HTTPResponse
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from app import app
from chalicelib import wiring
from chalicelib.adapters import signatures
from chalicelib.domain.model import Lead, Touchpoint
from chalicelib.domain.team import TeamConfig
from chalicelib.settings import load_settings
from chalicelib.team_file import load_team_file
from tests.fakes import (
    DictSecrets,
    FakeClock,
    FakeSleep,
    FakeTimers,
    MemoryLeadStore,
    MemoryRoutingStore,
    RecordingSender,
    RecordingUpdatingSender,
    StaticTeamStore,
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
TEAM = load_team_file(ROOT / "infra" / "team.demo.yaml")

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
PUBLIC_BASE_URL = "https://leads.example.test/api"

TWILIO_TOKEN = "twilio-auth-token-for-tests"
ADMIN_KEY = "admin-key-for-tests"
WEBSITE_TOKEN = "website-token-for-tests"
UNBOUNCE_TOKEN = "unbounce-token-for-tests"
TYPEFORM_SECRET = "typeform-secret-for-tests"
WEBFLOW_SECRET = "webflow-secret-for-tests"
PARTNER_SECRET = "whsec_" + base64.b64encode(b"partner-secret-32-bytes-for-test").decode()

SECRETS = {
    "env:TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "env:LEADCLOCK_ADMIN_KEY": ADMIN_KEY,
    "env:LEADCLOCK_SECRET_WEBSITE": WEBSITE_TOKEN,
    "env:LEADCLOCK_SECRET_UNBOUNCE": UNBOUNCE_TOKEN,
    "env:LEADCLOCK_SECRET_TYPEFORM": TYPEFORM_SECRET,
    "env:LEADCLOCK_SECRET_WEBFLOW": WEBFLOW_SECRET,
    "env:LEADCLOCK_SECRET_PARTNER": PARTNER_SECRET,
    "env:LEADCLOCK_LINK_SECRET": "link-secret-for-tests",
}

SETTINGS = {
    "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    "LEADCLOCK_ADMIN_KEY_REF": "env:LEADCLOCK_ADMIN_KEY",
    "LEADCLOCK_LINK_SECRET_REF": "env:LEADCLOCK_LINK_SECRET",
}

# The demo team's numbers: a Google Ads tracking number and the inbound queue's fallback.
TRACKING_NUMBER = "+14155550111"
FALLBACK_NUMBER = "+14155550100"


def event_bytes(name: str) -> bytes:
    """A recorded provider payload from tests/events."""
    return (EVENTS / name).read_bytes()


def body_of(response: HTTPResponse) -> Any:
    """The JSON body of a response."""
    return json.loads(response.body)


class Stack:
    """The app wired to fakes, with helpers that sign requests the way each provider does."""

    def __init__(self, team: TeamConfig = TEAM, env: Mapping[str, str] | None = None) -> None:
        self.client = Client(app)
        self.team = team
        self.env = dict(SETTINGS if env is None else env)
        self.reset()

    def reset(self) -> None:
        """Start again with an empty store and the clock at T0 (one per hypothesis example)."""
        self.routing = MemoryRoutingStore()
        self.store = MemoryLeadStore(self.routing)
        self.clock = FakeClock()
        self.timers = FakeTimers()
        self.alerts = self.store.alert_log  # where finish_step logs a step's alerts
        self.senders: dict[str, RecordingSender] = {
            "sms": RecordingSender(),
            "slack": RecordingUpdatingSender(),
            "email": RecordingSender(),
        }
        self.sleep = FakeSleep(self.clock)
        wiring.use(
            wiring.Container(
                settings=load_settings(self.env),
                store=self.store,
                routing=self.routing,
                team=StaticTeamStore(self.team),
                secrets=DictSecrets(dict(SECRETS)),
                clock=self.clock,
                verify_form=signatures.verify_form_request,
                verify_twilio=signatures.verify_twilio_request,
                timers=self.timers,
                alert_log=self.alerts,
                senders=lambda _team: self.senders,
                sleep=self.sleep,
            )
        )

    # --- requests ------------------------------------------------------------------------

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> HTTPResponse:
        """A raw POST."""
        return self.client.http.post(path, headers=dict(headers), body=body)

    def form(
        self,
        source: str,
        body: bytes | Mapping[str, Any],
        *,
        content_type: str | None = JSON,
        headers: Mapping[str, str] | None = None,
        path_token: str | None = None,
    ) -> HTTPResponse:
        """POST a form body (a dict is sent as JSON or urlencoded by `content_type`)."""
        raw = encode(body, content_type)
        sent = dict(headers or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        path = f"/webhooks/forms/{source}" + (f"/{path_token}" if path_token else "")
        return self.post(path, raw, sent)

    def website(self, fields: Mapping[str, Any], **kwargs: Any) -> HTTPResponse:
        """A form post to the demo `website` source with its token in the header."""
        headers = {"X-Leadclock-Token": WEBSITE_TOKEN, **kwargs.pop("headers", {})}
        return self.form("website", fields, headers=headers, **kwargs)

    def partner(
        self,
        body: bytes | Mapping[str, Any],
        *,
        msg_id: str = "msg_1",
        sent_at: datetime | None = None,
        secret: str = PARTNER_SECRET,
    ) -> HTTPResponse:
        """A Standard Webhooks post to the demo `partner` source, signed with the library."""
        raw = encode(body, JSON)
        when = sent_at or self.clock.now()
        signature = Webhook(secret).sign(msg_id, when, raw.decode())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": signature,
        }
        return self.form("partner", raw, headers=headers)

    def twilio(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        signature: str | None = None,
        token: str = TWILIO_TOKEN,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HTTPResponse:
        """POST a Twilio webhook signed over `url` (PUBLIC_BASE_URL + path unless given) and
        every parameter."""
        url = url or PUBLIC_BASE_URL + path
        if signature is None:
            signature = RequestValidator(token).compute_signature(url, dict(params))
        sent = {"Content-Type": FORM, "X-Twilio-Signature": signature, **(headers or {})}
        return self.post(path, urlencode(params).encode(), sent)

    def api(self, path: str, *, key: str | None = ADMIN_KEY) -> HTTPResponse:
        """GET from the read API with the admin key (or another, or none)."""
        headers = {} if key is None else {"x-api-key": key}
        return self.client.http.get(path, headers=headers)

    # --- what the store holds ------------------------------------------------------------

    def leads(self) -> list[Lead]:
        return list(self.store.leads.values())

    def lead(self, lead_id: str) -> Lead:
        lead = self.store.get_lead(lead_id)
        assert lead is not None, f"no lead {lead_id}"
        return lead

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        return self.store.touchpoints(lead_id)

    def all_touchpoints(self) -> list[Touchpoint]:
        return [t for lead_id in self.store.touches for t in self.store.touchpoints(lead_id)]

    def is_empty(self) -> bool:
        """Nothing at all stored: no event, identity, lead or touchpoint."""
        s = self.store
        return not (s.events or s.identities or s.leads or s.touches)

    def partial_records(self) -> list[str]:
        """Everything that breaks "all or nothing"; empty when the store is consistent."""
        s, problems = self.store, []
        for lead_id in s.leads:
            if not s.touches.get(lead_id):
                problems.append(f"lead {lead_id} has no touchpoint")
        for lead_id in s.touches:
            if lead_id not in s.leads:
                problems.append(f"touchpoints for missing lead {lead_id}")
        for key, lead_id in s.identities.items():
            if lead_id not in s.leads:
                problems.append(f"identity {key} points at missing lead {lead_id}")
        for key, (_, status, lead_id) in s.events.items():
            landed = status == "processed" and lead_id in s.leads
            if not (landed or status == "unmatched"):
                problems.append(f"event {key} is {status} (lead {lead_id})")
        return problems


def encode(body: bytes | Mapping[str, Any], content_type: str | None) -> bytes:
    """`body` as bytes: JSON for JSON, urlencoded for forms, bytes as they are."""
    if isinstance(body, bytes):
        return body
    if content_type is not None and content_type.startswith(FORM):
        return urlencode(body, doseq=True).encode()
    return json.dumps(body).encode()


@pytest.fixture
def make_stack() -> Iterator[Callable[..., Stack]]:
    """Build a Stack with another team or environment; the real container comes back after."""
    try:
        yield Stack
    finally:
        wiring.use(None)


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """The app on fakes: an empty MemoryLeadStore, a FakeClock at T0 and the demo team."""
    return make_stack()


# --- Twilio requests ---------------------------------------------------------------------

VOICE = "/webhooks/twilio/voice"
# The dial-done path carries the reps rung so far; "-" is none (the fallback number rang).
DIAL_DONE_PREFIX = "/webhooks/twilio/dial-done"
DIAL_DONE = DIAL_DONE_PREFIX + "/-"
VOICEMAIL = "/webhooks/twilio/voicemail"
SMS = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"
ALERTS_SMS = "/webhooks/twilio/alerts-sms"  # texts to the alerts number: reps' replies
TWILIO_ROUTES = (VOICE, DIAL_DONE, VOICEMAIL, SMS, STATUS, ALERTS_SMS)
ACCOUNT_SID = "AC" + "0" * 32
CALLER = "+14155550134"


def call(call_sid: str, **params: str) -> dict[str, str]:
    """An incoming call to the demo's Google Ads tracking number, as Twilio posts it."""
    base = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": CALLER,
        "Caller": CALLER,
        "To": TRACKING_NUMBER,
        "Called": TRACKING_NUMBER,
        "FromCity": "",
        "FromState": "CA",
        "FromZip": "",
        "FromCountry": "US",
        "CallerName": "",
    }
    return base | params


def sms(message_sid: str, body: str, **params: str) -> dict[str, str]:
    """An incoming SMS to the demo's Google Ads tracking number, as Twilio posts it."""
    base = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "SmsMessageSid": message_sid,
        "SmsStatus": "received",
        "From": CALLER,
        "To": TRACKING_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCity": "",
        "FromCountry": "US",
    }
    return base | params
