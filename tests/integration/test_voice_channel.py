"""TwilioVoice, the click-to-call bridge's first leg, against a local server playing Twilio's
Calls API: what reaches Twilio, and which failures are transient (the rep taps again) or
permanent (the call cannot be placed)."""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from chalicelib.adapters.channels.factory import build_senders
from chalicelib.adapters.channels.outbox import Outbox
from chalicelib.adapters.channels.voice import EVENTS, TwilioVoice
from chalicelib.adapters.secrets import SecretResolver
from chalicelib.domain.team import AlertChannels
from chalicelib.ports import AlertContent, Delivery, DeliveryError, Sender
from tests.fakes import FakeClock
from tests.providers import ACCOUNT_SID, FakeTwilio

REP_PHONE = "+14155550131"
TRACKING_NUMBER = "+14155550111"
BASE = "https://leads.example.test/api/bridge/tok"
CONTENT = AlertContent(subject="Call Kai Moss", text="New lead from website: Kai Moss", html="")


def call(
    *,
    callback: str | None = f"{BASE}/rep-status",
    sender: str | None = TRACKING_NUMBER,
    answer_url: str | None = f"{BASE}/answer",
) -> Delivery:
    return Delivery(
        "voice",
        REP_PHONE,
        CONTENT,
        status_callback=callback,
        sender=sender,
        answer_url=answer_url,
    )


def failure(sender: TwilioVoice, delivery: Delivery) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        sender.send(delivery)
    return caught.value


def sent_form(twilio: FakeTwilio) -> dict[str, list[str]]:
    """The one Calls request's form, every value of each name (StatusCallbackEvent repeats)."""
    (request,) = twilio.calls
    return parse_qs(request.body.decode(), keep_blank_values=True)


def closed_port_url() -> str:
    """A 127.0.0.1 URL nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def twilio(twilio_server: FakeTwilio) -> FakeTwilio:
    """The Twilio stand-in with no requests recorded and nothing scripted."""
    twilio_server.reset()
    return twilio_server


@pytest.fixture
def voice(twilio: FakeTwilio) -> TwilioVoice:
    return TwilioVoice(ACCOUNT_SID, "auth-token", api_base=twilio.url)


def test_a_call_reaches_twilios_calls_api_with_every_leg_event(
    twilio: FakeTwilio, voice: TwilioVoice
) -> None:
    voice.send(call())

    (request,) = twilio.calls
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    form = sent_form(twilio)
    assert form["To"] == [REP_PHONE]
    assert form["From"] == [TRACKING_NUMBER]
    assert form["Url"] == [f"{BASE}/answer"]
    assert form["StatusCallback"] == [f"{BASE}/rep-status"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["StatusCallbackEvent"] == EVENTS
    assert form["Timeout"] == ["25"]  # the rep's phone rings 25 s, not Twilio's default 60
    basic = base64.b64encode(f"{ACCOUNT_SID}:auth-token".encode()).decode()
    assert request.headers["authorization"] == f"Basic {basic}"


def test_the_call_sid_twilio_answers_is_the_provider_id(
    twilio: FakeTwilio, voice: TwilioVoice
) -> None:
    first = voice.send(call())
    second = voice.send(call())

    # The fake numbers its calls; the sid is Twilio's CA + 32 hex digits.
    assert re.fullmatch("CA[0-9a-f]{32}", str(first.provider_id))
    assert int(str(second.provider_id)[2:], 16) == int(str(first.provider_id)[2:], 16) + 1
    assert first.detail == {"status": "queued"}
    assert len(twilio.calls) == 2


def test_a_call_without_a_status_callback_asks_for_no_events(
    twilio: FakeTwilio, voice: TwilioVoice
) -> None:
    voice.send(call(callback=None))

    form = sent_form(twilio)
    assert "StatusCallback" not in form
    assert "StatusCallbackEvent" not in form


@pytest.mark.parametrize("missing", ["sender", "answer_url"])
def test_a_call_without_a_caller_id_or_answer_url_is_permanent_and_never_sent(
    twilio: FakeTwilio, voice: TwilioVoice, missing: str
) -> None:
    error = failure(voice, call(**{missing: None}))

    assert (error.permanent, error.code) == (True, "invalid")
    assert twilio.requests == []


def test_rate_limited_20429_is_transient(twilio: FakeTwilio, voice: TwilioVoice) -> None:
    twilio.fail(status=429, code=20429, message="Too Many Requests")

    error = failure(voice, call())

    assert (error.permanent, error.code) == (False, "20429")


def test_a_429_without_a_code_is_transient(twilio: FakeTwilio, voice: TwilioVoice) -> None:
    twilio.fail(status=429)

    assert not failure(voice, call()).permanent


def test_twilio_500_is_transient_and_the_next_call_goes_through(
    twilio: FakeTwilio, voice: TwilioVoice
) -> None:
    twilio.fail(status=500, code=20500, message="Internal Server Error")

    error = failure(voice, call())
    placed = voice.send(call())

    assert (error.permanent, error.code) == (False, "20500")
    assert str(placed.provider_id).startswith("CA")
    assert len(twilio.calls) == 2


def test_an_invalid_to_number_21211_is_permanent(twilio: FakeTwilio, voice: TwilioVoice) -> None:
    twilio.fail(status=400, code=21211, message="Invalid 'To' Phone Number")

    error = failure(voice, call())

    assert (error.permanent, error.code) == (True, "21211")
    assert "Invalid 'To' Phone Number" in error.message


def test_a_caller_id_twilio_does_not_own_21210_is_permanent(
    twilio: FakeTwilio, voice: TwilioVoice
) -> None:
    twilio.fail(status=400, code=21210, message="'From' phone number not verified")

    assert failure(voice, call()).permanent


def test_twilio_unreachable_is_transient() -> None:
    voice = TwilioVoice(ACCOUNT_SID, "t", api_base=closed_port_url())

    error = failure(voice, call())

    assert (error.permanent, error.code) == (False, "connection")


# --- the factory's "voice" sender ---------------------------------------------------------


def no_ssm() -> object:
    raise AssertionError("these tests use env: references only")


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    monkeypatch.setenv("LC_TEST_TWILIO_SID", ACCOUNT_SID)
    monkeypatch.setenv("LC_TEST_TWILIO_TOKEN", "auth-token")
    monkeypatch.delenv("LC_TEST_MISSING", raising=False)
    return SecretResolver(no_ssm)


def test_a_team_with_a_twilio_account_places_calls_through_twilio(
    secrets: SecretResolver, twilio: FakeTwilio
) -> None:
    senders = build_senders(
        AlertChannels(twilio_account_sid_ref="env:LC_TEST_TWILIO_SID", sms_from="+15550001111"),
        twilio_auth_token_ref="env:LC_TEST_TWILIO_TOKEN",
        secrets=secrets,
        ses_client=no_ssm,
        outbox=None,
        twilio_api_base=twilio.url,
    )

    placed = senders["voice"].send(call())

    assert str(placed.provider_id).startswith("CA")
    assert sent_form(twilio)["To"] == [REP_PHONE]


def test_without_a_twilio_account_calls_fail_permanently_or_go_to_the_outbox(
    secrets: SecretResolver,
) -> None:
    def voice_sender(outbox: Outbox | None) -> Sender:
        return build_senders(
            AlertChannels(),
            twilio_auth_token_ref=None,
            secrets=secrets,
            ses_client=no_ssm,
            outbox=outbox,
        )["voice"]

    with pytest.raises(DeliveryError) as caught:
        voice_sender(None).send(call())
    assert (caught.value.permanent, caught.value.code) == (True, "not_configured")

    outbox = Outbox(clock=FakeClock())
    voice_sender(outbox).send(call())
    assert [(i.channel, i.to) for i in outbox.items()] == [("voice", REP_PHONE)]


def test_a_missing_twilio_secret_fails_the_call_not_the_build(secrets: SecretResolver) -> None:
    senders = build_senders(
        AlertChannels(twilio_account_sid_ref="env:LC_TEST_MISSING"),
        twilio_auth_token_ref="env:LC_TEST_TWILIO_TOKEN",
        secrets=secrets,
        ses_client=no_ssm,
        outbox=None,
    )

    with pytest.raises(DeliveryError) as caught:
        senders["voice"].send(call())

    assert (caught.value.permanent, caught.value.code) == (True, "not_configured")
