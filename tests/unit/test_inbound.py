"""Domain builders: each provider request becomes one Capture, with the right keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.capture import Capture
from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.inbound import (
    call_capture,
    dial_capture,
    form_capture,
    opt_out_change,
    sms_capture,
    status_capture,
    voicemail_capture,
)
from chalicelib.domain.model import Contact, FormSubmission
from chalicelib.domain.team import SourceConfig, TrackingNumber

WEBSITE = SourceConfig(name="website", auth_scheme="token", secret_ref="env:WEBSITE")
NUMBER = TrackingNumber(number="+14155550111", source="google-ads", campaign="Brand_Search")
CALL_SID = "CA" + "a" * 32
MESSAGE_SID = "SM" + "b" * 32


NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def submission(**contact: Any) -> FormSubmission:
    return FormSubmission(contact=Contact(**contact))


def form(sub: FormSubmission, provider_id: str | None = None) -> tuple[Capture, bool]:
    return form_capture(WEBSITE, sub, provider_id=provider_id, default_region="US")


def call(**params: str) -> dict[str, str]:
    return {"CallSid": CALL_SID, "From": "+14155550134", "To": NUMBER.number, **params}


def sms(body: str, **params: str) -> dict[str, str]:
    return {
        "MessageSid": MESSAGE_SID,
        "From": "+14155550134",
        "To": NUMBER.number,
        "Body": body,
    } | params


# --- forms -------------------------------------------------------------------------------


def test_form_capture_identities_are_phone_then_email_normalised() -> None:
    capture, _ = form_capture(
        WEBSITE,
        submission(phone="(415) 555-0134", email=" Ann@Example.com "),
        provider_id=None,
        default_region="US",
    )

    assert capture.identities == ("phone:+14155550134", "email:ann@example.com")
    assert capture.claims == capture.identities
    assert (capture.phone, capture.email) == ("+14155550134", "ann@example.com")
    assert (capture.kind, capture.channel, capture.creates_lead) == ("form_submitted", "form", True)


def test_form_capture_with_only_an_email_has_one_identity() -> None:
    capture, _ = form_capture(
        WEBSITE, submission(email="ann@example.com"), provider_id=None, default_region="US"
    )

    assert capture.identities == ("email:ann@example.com",)
    assert capture.phone is None


@pytest.mark.parametrize("contact", [{}, {"name": "Ann"}, {"phone": "", "email": ""}])
def test_form_without_phone_or_email_is_invalid(contact: dict[str, str]) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        form_capture(WEBSITE, submission(**contact), provider_id=None, default_region="US")

    assert caught.value.field == "phone"
    assert caught.value.message == "a lead needs a phone or an email"


def test_form_with_an_unparseable_phone_is_invalid_even_with_an_email() -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        form_capture(
            WEBSITE,
            submission(phone="call me", email="ann@example.com"),
            provider_id=None,
            default_region="US",
        )

    assert caught.value.field == "phone"


def test_form_name_is_built_from_first_and_last_when_there_is_no_full_name() -> None:
    capture, _ = form(submission(email="a@example.com", first_name="Ann", last_name="Lee"))

    assert capture.name == "Ann Lee"


def test_form_detail_keeps_unmapped_fields_message_and_consent() -> None:
    sub = FormSubmission(
        contact=Contact(email="a@example.com", message="call after 5", consent=False),
        fields={"Budget": "$5k"},
    )

    capture, _ = form(sub)

    assert capture.detail == {
        "fields": {"Budget": "$5k"},
        "message": "call after 5",
        "consent": False,
    }


def test_form_attribution_carries_source_campaign_and_click_ids() -> None:
    sub = FormSubmission(
        contact=Contact(email="a@example.com"),
        utm={"utm_campaign": "spring-sale"},
        utm_raw={"utm_campaign": "Spring_Sale"},
        click_ids={"gclid": "AbC"},
        landing_page="https://example.com/?utm_campaign=Spring_Sale",
        referrer="https://google.com/",
        form_id="footer",
    )

    capture, _ = form(sub)

    a = capture.attribution
    assert (a.source, a.channel, a.campaign) == ("website", "form", "spring-sale")
    assert (a.utm, a.utm_raw, a.click_ids) == (
        {"utm_campaign": "spring-sale"},
        {"utm_campaign": "Spring_Sale"},
        {"gclid": "AbC"},
    )
    assert (a.landing_page, a.referrer, a.form_id) == (
        "https://example.com/?utm_campaign=Spring_Sale",
        "https://google.com/",
        "footer",
    )


def test_form_with_a_provider_id_is_keyed_by_it_and_not_windowed() -> None:
    capture, windowed = form(submission(email="a@example.com"), provider_id="msg_1")

    assert capture.event_key == "form:website:msg_1"
    assert windowed is False


def test_form_without_a_provider_id_is_keyed_by_its_content_within_a_window() -> None:
    first, windowed = form(submission(email="a@example.com", name="Ann"))
    same, _ = form(submission(email="a@example.com", name="Ann"))
    other, _ = form(submission(email="a@example.com", name="Anne"))

    assert windowed is True
    assert first.event_key.startswith("form:website:h:")
    assert first.event_key == same.event_key
    assert first.event_key != other.event_key


def test_content_key_ignores_how_the_phone_and_email_were_spelled() -> None:
    a, _ = form(submission(phone="(415) 555-0134", email="Ann@Example.com"))
    b, _ = form(submission(phone="+1 415 555 0134", email="ann@example.com"))

    assert a.event_key == b.event_key


def test_a_very_long_provider_id_is_hashed_into_a_bounded_key() -> None:
    long_id = "m" * 5000

    capture, _ = form(submission(email="a@example.com"), provider_id=long_id)
    again, _ = form(submission(email="a@example.com"), provider_id=long_id)

    assert len(capture.event_key) < 100
    assert capture.event_key == again.event_key


# --- calls -------------------------------------------------------------------------------


def test_call_capture_is_keyed_by_call_sid_and_found_by_sid_then_phone() -> None:
    capture = call_capture(call(), NUMBER, default_region="US")

    assert capture.event_key == f"twilio:call:{CALL_SID}"
    assert capture.identities == (f"sid:{CALL_SID}", "phone:+14155550134")
    assert capture.claims == capture.identities
    assert (capture.kind, capture.channel, capture.phone) == (
        "call_received",
        "call",
        "+14155550134",
    )
    assert capture.detail["call_sid"] == CALL_SID


def test_call_attribution_comes_from_the_tracking_number_with_the_campaign_normalised() -> None:
    a = call_capture(call(), NUMBER, default_region="US").attribution

    assert (a.source, a.channel, a.tracking_number) == ("google-ads", "call", NUMBER.number)
    assert a.campaign == "brand-search"
    assert a.utm == {"utm_campaign": "brand-search"}
    assert a.utm_raw == {"utm_campaign": "Brand_Search"}


def test_call_to_an_unknown_number_is_attributed_to_phone() -> None:
    a = call_capture(call(To="+14155550999"), None, default_region="US").attribution

    assert (a.source, a.tracking_number, a.campaign) == ("phone", "+14155550999", None)


@pytest.mark.parametrize("caller", ["anonymous", "+266696687", ""])
def test_call_from_a_withheld_number_is_found_by_its_sid_alone(caller: str) -> None:
    capture = call_capture(call(From=caller), NUMBER, default_region="US")

    assert capture.identities == (f"sid:{CALL_SID}",)
    assert capture.phone is None
    assert capture.creates_lead is True


def test_blank_caller_name_is_no_name() -> None:
    assert call_capture(call(CallerName=""), NUMBER, default_region="US").name is None


@pytest.mark.parametrize("sid", ["", "CA 1", "CA" + "1" * 100, "CA\x00"])
def test_call_without_a_usable_call_sid_is_invalid_naming_call_sid(sid: str) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        call_capture(call(CallSid=sid), NUMBER, default_region="US")

    assert caught.value.field == "CallSid"


# --- SMS ---------------------------------------------------------------------------------


def test_sms_capture_is_keyed_by_message_sid_and_found_by_phone() -> None:
    capture = sms_capture(sms("hello"), NUMBER, default_region="US")

    assert capture.event_key == f"twilio:sms:{MESSAGE_SID}"
    assert capture.identities == ("phone:+14155550134",)
    assert capture.detail == {"message_sid": MESSAGE_SID, "body": "hello"}
    assert capture.sms_opt_out is None


def test_sms_from_a_withheld_number_is_found_by_its_sid() -> None:
    capture = sms_capture(sms("hi", From="anonymous"), NUMBER, default_region="US")

    assert capture.identities == (f"sid:{MESSAGE_SID}",)


def test_sms_body_is_cut_at_1600_characters() -> None:
    capture = sms_capture(sms("x" * 5000), NUMBER, default_region="US")

    assert len(capture.detail["body"]) == 1600


def test_mms_media_urls_are_kept_in_order() -> None:
    params = sms("", NumMedia="2", MediaUrl0="https://m/0", MediaUrl1="https://m/1")

    assert sms_capture(params, NUMBER, default_region="US").detail["media_urls"] == [
        "https://m/0",
        "https://m/1",
    ]


def test_mms_media_count_is_capped_at_twilios_ten() -> None:
    urls = {f"MediaUrl{i}": f"https://m/{i}" for i in range(12)}

    capture = sms_capture(sms("", NumMedia="99999999999", **urls), NUMBER, default_region="US")

    assert capture.detail["media_urls"] == [f"https://m/{i}" for i in range(10)]


@pytest.mark.parametrize("count", ["²", "-1", "abc", "", "1.5", "٣"])
def test_odd_media_counts_mean_no_media(count: str) -> None:
    capture = sms_capture(
        sms("", NumMedia=count, MediaUrl0="https://m/0"), NUMBER, default_region="US"
    )

    assert "media_urls" not in capture.detail


def test_stop_sms_sets_opt_out_on_the_capture() -> None:
    assert sms_capture(sms(" stop "), NUMBER, default_region="US").sms_opt_out is True


# --- opt-out words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "opt_out_type", "expected"),
    [
        ("STOP", None, True),
        ("stop", None, True),
        ("  Unsubscribe\n", None, True),
        ("STOPALL", None, True),
        ("quit", None, True),
        ("START", None, False),
        ("unstop", None, False),
        ("Yes", None, False),
        ("HELP", None, None),
        ("info", None, None),
        ("Stop please", None, None),
        ("please stop", None, None),
        ("", None, None),
        ("arrêter", "STOP", True),
        ("reprendre", "START", False),
        ("STOP", "HELP", None),
        ("hello", "", None),
    ],
)
def test_opt_out_change(body: str, opt_out_type: str | None, expected: bool | None) -> None:
    assert opt_out_change(body, opt_out_type) is expected


# --- status callbacks, dial results, voicemail -------------------------------------------


def test_call_status_is_keyed_by_sid_and_status_and_never_creates_a_lead() -> None:
    capture = status_capture(call(CallStatus="completed", CallDuration="31"), default_region="US")

    assert capture.event_key == f"twilio:status:{CALL_SID}:completed"
    assert capture.creates_lead is False
    assert capture.claims == ()
    assert (capture.kind, capture.channel) == ("call_status", "status")
    assert capture.detail == {"sid": CALL_SID, "status": "completed", "CallDuration": "31"}


def test_each_status_of_a_call_has_its_own_key() -> None:
    ringing = status_capture(call(CallStatus="ringing"), default_region="US")
    completed = status_capture(call(CallStatus="completed"), default_region="US")

    assert ringing.event_key != completed.event_key


def test_inbound_call_status_is_found_by_sid_then_the_callers_phone() -> None:
    capture = status_capture(call(CallStatus="completed", Direction="inbound"), default_region="US")

    assert capture.identities == (f"sid:{CALL_SID}", "phone:+14155550134")


def test_outbound_call_status_is_found_by_the_callees_phone() -> None:
    params = call(
        CallStatus="completed", Direction="outbound-api", From=NUMBER.number, To="+14155550177"
    )

    capture = status_capture(params, default_region="US")

    assert capture.identities == (f"sid:{CALL_SID}", "phone:+14155550177")


def test_message_status_without_direction_is_found_by_the_recipients_phone() -> None:
    params = {
        "MessageSid": MESSAGE_SID,
        "MessageStatus": "delivered",
        "From": NUMBER.number,
        "To": "+14155550134",
    }

    capture = status_capture(params, default_region="US")

    assert capture.event_key == f"twilio:status:{MESSAGE_SID}:delivered"
    assert capture.kind == "message_status"
    assert capture.identities == (f"sid:{MESSAGE_SID}", "phone:+14155550134")


def test_legacy_sms_sid_and_status_are_read() -> None:
    params = {"SmsSid": MESSAGE_SID, "SmsStatus": "sent", "To": "+14155550134"}

    assert (
        status_capture(params, default_region="US").event_key == f"twilio:status:{MESSAGE_SID}:sent"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"CallStatus": "completed"}, "CallSid"),
        ({"CallSid": CALL_SID}, "CallStatus"),
        ({"MessageSid": MESSAGE_SID}, "SmsStatus"),
        ({"CallSid": CALL_SID, "CallStatus": "not a status!"}, "CallStatus"),
    ],
)
def test_status_without_a_usable_sid_or_status_is_invalid_naming_it(
    params: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        status_capture(params, default_region="US")

    assert caught.value.field == field


def test_dial_result_is_keyed_by_the_call_and_its_leg_and_attaches_to_it_only() -> None:
    params = call(DialCallStatus="no-answer", DialCallDuration="0")
    capture = dial_capture(params, attempt=1, rep="ana", now=NOW)

    assert capture.event_key == f"twilio:dial:{CALL_SID}:1"
    assert capture.identities == (f"sid:{CALL_SID}",)
    assert capture.creates_lead is False
    assert capture.first_response is None
    assert capture.detail == {
        "call_sid": CALL_SID,
        "status": "no-answer",
        "DialCallDuration": "0",
        "rep": "ana",
    }


def test_an_answered_leg_is_a_first_response_at_the_moment_it_was_answered() -> None:
    params = call(DialCallStatus="completed", DialCallDuration="95")
    capture = dial_capture(params, attempt=0, rep="ana", now=NOW)

    assert capture.first_response == {
        "at": (NOW - timedelta(seconds=95)).isoformat(),
        "by": "ana",
    }


def test_dial_result_without_a_status_is_invalid_naming_dial_call_status() -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        dial_capture(call(), attempt=0, rep=None, now=NOW)

    assert caught.value.field == "DialCallStatus"


def test_voicemail_is_keyed_by_its_recording_and_attaches_to_the_call() -> None:
    recording = "RE" + "c" * 32
    params = call(RecordingSid=recording, RecordingUrl="https://r", RecordingDuration="9")

    capture = voicemail_capture(params)

    assert capture.event_key == f"twilio:voicemail:{recording}"
    assert capture.identities == (f"sid:{CALL_SID}",)
    assert (capture.kind, capture.channel, capture.creates_lead) == (
        "voicemail_left",
        "voicemail",
        False,
    )
    assert capture.detail["RecordingUrl"] == "https://r"


def test_voicemail_without_a_recording_is_invalid_naming_recording_sid() -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        voicemail_capture(call())

    assert caught.value.field == "RecordingSid"


def test_a_capture_survives_a_round_trip_through_its_dict() -> None:
    capture, _ = form(submission(phone="415 555 0134", email="a@example.com"), provider_id="m1")

    assert Capture.from_dict(capture.to_dict()) == capture
