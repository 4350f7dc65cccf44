"""POST /webhooks/forms/{source}: every auth scheme end to end, on fakes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from typing import Any

import pytest

from tests.functional.conftest import (
    FORM,
    TRACKING_NUMBER,
    TYPEFORM_SECRET,
    UNBOUNCE_TOKEN,
    VOICE,
    WEBFLOW_SECRET,
    WEBSITE_TOKEN,
    Stack,
    body_of,
    call,
    event_bytes,
)

LEAD = {
    "name": "Dana Reed",
    "email": "Dana.Reed@Example.com ",
    "phone": "(415) 555-0134",
    "company": "Reed Plumbing",
    "utm_source": "Google",
    "utm_campaign": "LinkedIn_Q3",
    "gclid": "Cj0KCQ_AbC-dEf",
    "budget": "$5k",
}


def typeform_signature(body: bytes, secret: str = TYPEFORM_SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def webflow_headers(stack: Stack, body: bytes, *, ms: int | None = None) -> dict[str, str]:
    timestamp = str(ms if ms is not None else int(stack.clock.now().timestamp() * 1000))
    signed = timestamp.encode() + b":" + body
    return {
        "x-webflow-timestamp": timestamp,
        "x-webflow-signature": hmac.new(
            WEBFLOW_SECRET.encode(), signed, hashlib.sha256
        ).hexdigest(),
    }


def assert_unauthorized(stack: Stack, response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert body_of(response)["Code"] == "unauthorized"
    assert body_of(response)["Message"]
    assert stack.is_empty()


# --- token sources -----------------------------------------------------------------------


def test_token_in_header_creates_a_lead_with_201(stack: Stack) -> None:
    response = stack.website(LEAD)

    assert response.status_code == 201
    body = body_of(response)
    assert body["status"] == "created"
    lead = stack.lead(body["lead_id"])
    assert (lead.phone, lead.email, lead.name) == (
        "+14155550134",
        "dana.reed@example.com",
        "Dana Reed",
    )
    assert lead.company == "Reed Plumbing"
    [touch] = stack.touchpoints(lead.lead_id)
    assert (touch.channel, touch.kind) == ("form", "form_submitted")
    assert touch.detail["fields"] == {"budget": "$5k"}


def test_form_attribution_is_normalised_with_the_original_kept(stack: Stack) -> None:
    lead_id = body_of(stack.website(LEAD))["lead_id"]

    touch = stack.lead(lead_id).first_touch
    assert (touch.source, touch.channel) == ("website", "form")
    assert touch.campaign == "linkedin-q3"
    assert touch.utm == {"utm_source": "google", "utm_campaign": "linkedin-q3"}
    assert touch.click_ids == {"gclid": "Cj0KCQ_AbC-dEf"}
    assert touch.utm_raw == {"utm_source": "Google", "utm_campaign": "LinkedIn_Q3"}


def test_bearer_token_is_accepted(stack: Stack) -> None:
    response = stack.form("website", LEAD, headers={"Authorization": f"Bearer {WEBSITE_TOKEN}"})

    assert response.status_code == 201


def test_path_token_is_accepted(stack: Stack) -> None:
    response = stack.form("website", LEAD, path_token=WEBSITE_TOKEN)

    assert response.status_code == 201


def test_wrong_path_token_is_401_and_nothing_stored(stack: Stack) -> None:
    assert_unauthorized(stack, stack.form("website", LEAD, path_token="not-the-token"))


def test_wrong_header_token_is_401_and_nothing_stored(stack: Stack) -> None:
    response = stack.form("website", LEAD, headers={"X-Leadclock-Token": "not-the-token"})

    assert_unauthorized(stack, response)


def test_missing_token_is_401_and_nothing_stored(stack: Stack) -> None:
    assert_unauthorized(stack, stack.form("website", LEAD))


def test_another_sources_token_is_401_and_nothing_stored(stack: Stack) -> None:
    response = stack.form("website", LEAD, headers={"X-Leadclock-Token": UNBOUNCE_TOKEN})

    assert_unauthorized(stack, response)


def test_unknown_source_is_401_and_nothing_stored(stack: Stack) -> None:
    response = stack.form("nosuch", LEAD, headers={"X-Leadclock-Token": WEBSITE_TOKEN})

    assert_unauthorized(stack, response)


def test_unknown_source_with_a_path_token_is_401_and_nothing_stored(stack: Stack) -> None:
    assert_unauthorized(stack, stack.form("nosuch", LEAD, path_token=WEBSITE_TOKEN))


def test_a_token_does_not_open_a_signed_source(stack: Stack) -> None:
    response = stack.form("typeform", LEAD, headers={"X-Leadclock-Token": TYPEFORM_SECRET})

    assert_unauthorized(stack, response)


# --- content types -----------------------------------------------------------------------


def test_form_urlencoded_body_creates_a_lead(stack: Stack) -> None:
    response = stack.form(
        "website",
        event_bytes("gravity_forms.txt"),
        content_type=FORM,
        headers={"X-Leadclock-Token": WEBSITE_TOKEN},
    )

    assert response.status_code == 201
    lead = stack.lead(body_of(response)["lead_id"])
    assert (lead.phone, lead.email) == ("+14155550199", "morgan.patel@example.com")
    assert lead.first_touch.utm["utm_campaign"] == "furnace-fall"
    assert lead.first_touch.click_ids == {"gclid": "EAIaIQobChMI_Tk9xYz"}


def test_form_urlencoded_with_a_charset_parameter_is_read(stack: Stack) -> None:
    response = stack.website(LEAD, content_type=f"{FORM}; charset=UTF-8")

    assert response.status_code == 201


def test_unbounce_data_json_with_path_token_creates_a_lead(stack: Stack) -> None:
    response = stack.form(
        "unbounce", event_bytes("unbounce_form.txt"), content_type=FORM, path_token=UNBOUNCE_TOKEN
    )

    assert response.status_code == 201
    lead = stack.lead(body_of(response)["lead_id"])
    assert (lead.phone, lead.email) == ("+14155550128", "riley.chen@example.com")
    assert lead.company == "Chen & Partners"
    touch = lead.first_touch
    assert touch.source == "unbounce"
    # The lead keeps the page; the full URL, query and all, is on the touchpoint.
    assert touch.landing_page == "http://unbouncepages.com/tax-season/"
    (touchpoint,) = stack.touchpoints(lead.lead_id)
    assert touchpoint.attribution.landing_page == (
        "http://unbouncepages.com/tax-season/?msclkid=4a8e1F2b3C4d5e6f7a8b9c0d1e2f3a4b&utm_medium=CPC"
    )
    assert touch.click_ids == {"msclkid": "4a8e1F2b3C4d5e6f7a8b9c0d1e2f3a4b"}
    assert touch.form_id == "4f1b3c2a-7d6e-4a5b-9c8d-0e1f2a3b4c5d"


def test_generic_json_recording_keeps_landing_page_and_referrer(stack: Stack) -> None:
    response = stack.form(
        "website", event_bytes("generic_form.json"), headers={"X-Leadclock-Token": WEBSITE_TOKEN}
    )

    lead = stack.lead(body_of(response)["lead_id"])
    touch = lead.first_touch
    assert touch.referrer == "https://l.facebook.com/"
    assert touch.utm["utm_campaign"] == "spring-promo"
    assert touch.click_ids == {"fbclid": "IwAR2xYz_AbC-dEf"}
    assert touch.form_id == "contact-footer"


# --- Typeform ----------------------------------------------------------------------------


def test_typeform_signed_form_response_creates_a_lead(stack: Stack) -> None:
    body = event_bytes("typeform_form_response.json")

    response = stack.form(
        "typeform", body, headers={"Typeform-Signature": typeform_signature(body)}
    )

    assert response.status_code == 201
    lead = stack.lead(body_of(response)["lead_id"])
    assert (lead.phone, lead.email) == ("+14155550142", "avery.quinn@example.com")
    assert lead.name == "Avery Quinn"
    touch = lead.first_touch
    assert (touch.source, touch.form_id) == ("typeform", "lT4Z3jXq")
    assert touch.campaign == "linkedin-q3"
    assert touch.utm_raw["utm_campaign"] == "LinkedIn_Q3"
    assert touch.click_ids == {"li_fat_id": "7f3c2a1e-4B5d-4e8f-9A0b-1c2D3e4F5a6b"}
    assert touch.referrer == "https://www.example.com/demo"


def test_typeform_redelivery_of_one_event_adds_one_touchpoint(stack: Stack) -> None:
    body = event_bytes("typeform_form_response.json")
    headers = {"Typeform-Signature": typeform_signature(body)}

    first = stack.form("typeform", body, headers=headers)
    stack.clock.advance(hours=2)  # past the form window: the event id alone de-duplicates
    again = stack.form("typeform", body, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert body_of(again) == {"lead_id": body_of(first)["lead_id"], "status": "duplicate"}
    assert len(stack.all_touchpoints()) == 1


def test_typeform_signature_with_another_secret_is_401_and_nothing_stored(stack: Stack) -> None:
    body = event_bytes("typeform_form_response.json")
    headers = {"Typeform-Signature": typeform_signature(body, "someone-elses-secret")}

    assert_unauthorized(stack, stack.form("typeform", body, headers=headers))


def test_typeform_signature_of_another_body_is_401_and_nothing_stored(stack: Stack) -> None:
    body = event_bytes("typeform_form_response.json")
    headers = {"Typeform-Signature": typeform_signature(body)}

    tampered = body.replace(b"avery.quinn@example.com", b"mallory@example.com")
    assert_unauthorized(stack, stack.form("typeform", tampered, headers=headers))


def test_typeform_without_signature_is_401_and_nothing_stored(stack: Stack) -> None:
    assert_unauthorized(stack, stack.form("typeform", event_bytes("typeform_form_response.json")))


# --- Webflow -----------------------------------------------------------------------------


def test_webflow_signature_and_timestamp_create_a_lead(stack: Stack) -> None:
    body = event_bytes("webflow_form_submission.json")

    response = stack.form("webflow", body, headers=webflow_headers(stack, body))

    assert response.status_code == 201
    lead = stack.lead(body_of(response)["lead_id"])
    assert (lead.phone, lead.email, lead.name) == (
        "+14155550117",
        "jordan.reyes@example.com",
        "Jordan Reyes",
    )
    assert lead.first_touch.click_ids == {"gclid": "Cj0KCQjw8O-VBhCpARIsACMvVLN3xQ_aBcD-EfG"}
    assert lead.first_touch.campaign == "roofing-leads-q3"


def test_webflow_timestamp_within_five_minutes_is_accepted(stack: Stack) -> None:
    body = event_bytes("webflow_form_submission.json")
    ms = int((stack.clock.now() - timedelta(minutes=4, seconds=59)).timestamp() * 1000)

    response = stack.form("webflow", body, headers=webflow_headers(stack, body, ms=ms))

    assert response.status_code == 201


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_webflow_timestamp_outside_five_minutes_is_401_and_nothing_stored(
    stack: Stack, skew: timedelta
) -> None:
    body = event_bytes("webflow_form_submission.json")
    ms = int((stack.clock.now() + skew).timestamp() * 1000)

    response = stack.form("webflow", body, headers=webflow_headers(stack, body, ms=ms))

    assert_unauthorized(stack, response)


def test_webflow_timestamp_changed_after_signing_is_401_and_nothing_stored(stack: Stack) -> None:
    body = event_bytes("webflow_form_submission.json")
    headers = webflow_headers(stack, body)
    headers["x-webflow-timestamp"] = str(int(headers["x-webflow-timestamp"]) + 1)

    assert_unauthorized(stack, stack.form("webflow", body, headers=headers))


def test_webflow_without_timestamp_is_401_and_nothing_stored(stack: Stack) -> None:
    body = event_bytes("webflow_form_submission.json")
    headers = webflow_headers(stack, body)
    del headers["x-webflow-timestamp"]

    assert_unauthorized(stack, stack.form("webflow", body, headers=headers))


# --- Standard Webhooks -------------------------------------------------------------------


def test_standard_webhooks_signed_by_the_library_creates_a_lead(stack: Stack) -> None:
    response = stack.partner(LEAD, msg_id="msg_2Q8nGJcKfU")

    assert response.status_code == 201
    lead = stack.lead(body_of(response)["lead_id"])
    assert lead.first_touch.source == "partner"
    [touch] = stack.touchpoints(lead.lead_id)
    assert touch.event_key == "form:partner:msg_2Q8nGJcKfU"


def test_standard_webhooks_same_webhook_id_twice_adds_one_touchpoint(stack: Stack) -> None:
    first = stack.partner(LEAD, msg_id="msg_retry")
    stack.clock.advance(minutes=30)  # a retry hours later is still the same delivery
    again = stack.partner(LEAD, msg_id="msg_retry")

    assert (first.status_code, again.status_code) == (201, 200)
    assert body_of(again)["status"] == "duplicate"
    assert len(stack.all_touchpoints()) == 1


def test_standard_webhooks_new_webhook_id_with_the_same_body_is_a_new_touchpoint(
    stack: Stack,
) -> None:
    stack.partner(LEAD, msg_id="msg_a")
    response = stack.partner(LEAD, msg_id="msg_b")

    assert (response.status_code, body_of(response)["status"]) == (200, "updated")
    assert len(stack.all_touchpoints()) == 2
    assert len(stack.leads()) == 1


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)]
)
def test_standard_webhooks_timestamp_outside_five_minutes_is_401_and_nothing_stored(
    stack: Stack, skew: timedelta
) -> None:
    response = stack.partner(LEAD, sent_at=stack.clock.now() + skew)

    assert_unauthorized(stack, response)


def test_standard_webhooks_signed_with_another_secret_is_401_and_nothing_stored(
    stack: Stack,
) -> None:
    other = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()

    assert_unauthorized(stack, stack.partner(LEAD, secret=other))


def test_standard_webhooks_without_signature_is_401_and_nothing_stored(stack: Stack) -> None:
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(stack.clock.now().timestamp()))}

    assert_unauthorized(stack, stack.form("partner", LEAD, headers=headers))


def test_standard_webhooks_with_a_bad_signature_is_401_and_nothing_stored(stack: Stack) -> None:
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(stack.clock.now().timestamp())),
        "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode(),
    }

    assert_unauthorized(stack, stack.form("partner", LEAD, headers=headers))


# --- one lead, many touchpoints ----------------------------------------------------------


def test_double_submitted_identical_form_within_the_window_adds_one_touchpoint(
    stack: Stack,
) -> None:
    first = stack.website(LEAD)
    stack.clock.advance(seconds=3)
    again = stack.website(LEAD)

    assert (first.status_code, again.status_code) == (201, 200)
    assert body_of(again) == {"lead_id": body_of(first)["lead_id"], "status": "duplicate"}
    assert len(stack.all_touchpoints()) == 1


def test_identical_form_after_the_window_is_a_second_touchpoint(stack: Stack) -> None:
    stack.website(LEAD)
    stack.clock.advance(hours=1)
    again = stack.website(LEAD)

    assert (again.status_code, body_of(again)["status"]) == (200, "updated")
    assert len(stack.all_touchpoints()) == 2


def test_returning_lead_is_200_keeps_first_touch_and_moves_last_touch(stack: Stack) -> None:
    first = body_of(stack.website(LEAD))
    stack.clock.advance(days=3)
    returning = {
        "email": "dana.reed@example.com",
        "utm_source": "newsletter",
        "message": "hi again",
    }

    response = stack.form(
        "unbounce", returning, content_type=FORM, headers={"X-Leadclock-Token": UNBOUNCE_TOKEN}
    )

    assert response.status_code == 200
    assert body_of(response) == {"lead_id": first["lead_id"], "status": "updated"}
    lead = stack.lead(first["lead_id"])
    assert lead.first_touch.source == "website"
    assert lead.first_touch.utm["utm_source"] == "google"
    assert lead.last_touch.source == "unbounce"
    assert lead.last_touch.utm == {"utm_source": "newsletter"}
    assert lead.touch_count == 2
    assert [t.attribution.source for t in stack.touchpoints(lead.lead_id)] == [
        "website",
        "unbounce",
    ]


def test_form_and_call_with_the_same_phone_are_one_lead(stack: Stack) -> None:
    form = body_of(stack.website(LEAD))
    stack.clock.advance(minutes=2)
    response = stack.twilio(VOICE, call("CA" + "1" * 32, From="+14155550134"))

    assert response.status_code == 200
    assert [lead.lead_id for lead in stack.leads()] == [form["lead_id"]]
    kinds = [t.kind for t in stack.touchpoints(form["lead_id"])]
    assert kinds == ["form_submitted", "call_received"]
    assert stack.lead(form["lead_id"]).last_touch.tracking_number == TRACKING_NUMBER


def test_call_then_form_with_the_same_phone_lands_on_the_callers_lead(stack: Stack) -> None:
    stack.twilio(VOICE, call("CA" + "2" * 32, From="+14155550134"))
    [caller] = stack.leads()

    response = stack.website({"phone": "415.555.0134", "email": "dana@example.com"})

    assert body_of(response) == {"lead_id": caller.lead_id, "status": "updated"}
    lead = stack.lead(caller.lead_id)
    assert lead.email == "dana@example.com"
    assert lead.first_touch.channel == "call"
    assert lead.last_touch.channel == "form"
