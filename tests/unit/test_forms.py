"""Form webhook bodies: every provider shape reads into the same FormSubmission."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.attribution import normalise_utm
from chalicelib.domain.errors import (
    InvalidPayloadError,
    LeadclockError,
    UnsupportedContentTypeError,
)
from chalicelib.domain.forms import parse_form
from chalicelib.domain.model import FormSubmission

EVENTS = Path(__file__).resolve().parent.parent / "events"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def event(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def parse_json(data: dict[str, Any]) -> FormSubmission:
    return parse_form(json.dumps(data).encode(), JSON)


def parse_fields(pairs: dict[str, str] | list[tuple[str, str]]) -> FormSubmission:
    return parse_form(urlencode(pairs).encode(), FORM)


def invalid_field(body: bytes, content_type: str = JSON) -> str | None:
    with pytest.raises(InvalidPayloadError) as caught:
        parse_form(body, content_type)
    return caught.value.field


def typeform(answers: list[dict[str, Any]], **response: Any) -> dict[str, Any]:
    return {
        "event_id": "evt-1",
        "event_type": "form_response",
        "form_response": {"form_id": "abc123", "token": "tok-1", "answers": answers, **response},
    }


def text_answer(ref: str, text: str, field_id: str = "f1") -> dict[str, Any]:
    return {
        "type": "text",
        "text": text,
        "field": {"id": field_id, "type": "short_text", "ref": ref},
    }


# Recorded provider payloads


def test_typeform_recording_reads_contact_attribution_and_kept_answers() -> None:
    sub = parse_form(event("typeform_form_response.json"), JSON)
    contact = sub.contact
    assert (contact.first_name, contact.last_name) == ("Avery", "Quinn")
    assert contact.name is None
    assert (contact.email, contact.phone) == ("avery.quinn@example.com", "+14155550142")
    assert contact.message == "We miss leads after 6pm.\nCan you route them to on-call reps?"
    assert contact.consent is True
    assert sub.utm["utm_campaign"] == "linkedin-q3"
    assert sub.utm["utm_content"] == "carousel-a"  # from the hidden landing page's query
    assert sub.click_ids == {"li_fat_id": "7f3c2a1e-4B5d-4e8f-9A0b-1c2D3e4F5a6b"}
    assert sub.referrer == "https://www.example.com/demo"
    assert (sub.form_id, sub.provider_event_id) == ("lT4Z3jXq", "01HXQ7T3Z8K2W9M4N6P1R5S0VB")
    assert sub.fields == {
        "How big is your sales team?": "11-50",
        "Which channels do you sell through?": "Phone, Email, Trade shows",
        "Seats": "12",
    }


def test_webflow_recording_reads_fields_from_payload_data() -> None:
    sub = parse_form(event("webflow_form_submission.json"), JSON)
    assert (sub.contact.first_name, sub.contact.last_name) == ("Jordan", "Reyes")
    assert sub.contact.email == "jordan.reyes@example.com"
    assert sub.contact.phone == "14155550117"  # Webflow sends phone numbers as JSON numbers
    assert sub.contact.company == "Reyes Roofing"
    assert sub.utm == {
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "roofing-leads-q3",
    }
    assert sub.click_ids == {"gclid": "Cj0KCQjw8O-VBhCpARIsACMvVLN3xQ_aBcD-EfG"}
    assert (sub.form_id, sub.provider_event_id) == (
        "65429eadebe8a9f3a30f62d0",
        "6643592488c1e4b5d6e7f801",
    )
    assert sub.fields == {"Budget": "$10k-$25k"}


def test_unbounce_data_json_arrays_take_first_value() -> None:
    sub = parse_form(event("unbounce_form.txt"), FORM)
    assert (sub.contact.first_name, sub.contact.last_name) == ("Riley", "Chen")
    assert sub.contact.email == "riley.chen@example.com"
    assert sub.contact.phone == "+1 415 555 0128"
    assert sub.contact.company == "Chen & Partners"


def test_unbounce_multi_select_joins_values_and_drops_transport_copies() -> None:
    sub = parse_form(event("unbounce_form.txt"), FORM)
    assert sub.fields["what_services_are_you_interested_in"] == "Bookkeeping, Payroll"
    assert sub.fields["variant"] == "b"  # sent inside data.json and beside it, kept once
    assert "data.json" not in sub.fields and "data.xml" not in sub.fields


def test_unbounce_page_url_is_the_landing_page_and_page_id_the_form_id() -> None:
    sub = parse_form(event("unbounce_form.txt"), FORM)
    assert sub.landing_page is not None
    assert sub.landing_page.startswith("http://unbouncepages.com/tax-season/")
    assert sub.form_id == "4f1b3c2a-7d6e-4a5b-9c8d-0e1f2a3b4c5d"
    assert sub.click_ids == {"msclkid": "4a8e1F2b3C4d5e6f7a8b9c0d1e2f3a4b"}
    assert sub.utm == {"utm_source": "bing", "utm_medium": "cpc", "utm_campaign": "tax-season-2024"}


def test_generic_json_recording_maps_aliases_and_keeps_the_rest() -> None:
    sub = parse_form(event("generic_form.json"), JSON)
    assert sub.contact.name == "Sam Okafor"
    assert sub.contact.email == "sam.okafor@example.com"
    assert sub.contact.phone == "(415) 555-0163"
    assert sub.contact.company == "Okafor Dental"
    assert sub.contact.message == "Looking for after-hours call coverage."
    assert sub.contact.consent is True
    assert sub.utm == {
        "utm_source": "facebook",
        "utm_medium": "paid-social",
        "utm_campaign": "spring-promo",
    }
    assert sub.click_ids == {"fbclid": "IwAR2xYz_AbC-dEf"}
    assert sub.referrer == "https://l.facebook.com/"
    assert sub.form_id == "contact-footer"
    assert sub.fields == {"Preferred time": "Mornings", "Services": "Cleaning, Whitening"}
    assert sub.provider_event_id is None


def test_gravity_forms_recording_reads_urlencoded_fields_and_source_url() -> None:
    sub = parse_form(event("gravity_forms.txt"), FORM + "; charset=UTF-8")
    assert (sub.contact.first_name, sub.contact.last_name) == ("Morgan", "Patel")
    assert sub.contact.message == "Furnace install quote, 2-storey house."
    assert sub.contact.consent is True
    assert sub.form_id == "3"
    assert sub.utm == {
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "furnace-fall",
        "utm_term": "furnace-installation",
    }
    assert sub.click_ids == {"gclid": "EAIaIQobChMI_Tk9xYz"}
    assert sub.fields["entry_id"] == "1024"


# Typeform details


def test_typeform_typed_email_and_phone_answers_map_whatever_their_ref() -> None:
    answers = [
        {"type": "email", "email": "a@example.com", "field": {"id": "x", "ref": "q1"}},
        {"type": "phone_number", "phone_number": "+14155550101", "field": {"id": "y", "ref": "q2"}},
    ]
    contact = parse_json(typeform(answers)).contact
    assert (contact.email, contact.phone) == ("a@example.com", "+14155550101")


def test_typeform_answers_map_by_title_when_the_ref_is_generated() -> None:
    definition = {"fields": [{"id": "f9", "title": "Company name", "ref": "01HXQ6"}]}
    sub = parse_json(typeform([text_answer("01HXQ6", "Acme", "f9")], definition=definition))
    assert sub.contact.company == "Acme"


def test_typeform_second_email_answer_is_kept_not_dropped() -> None:
    answers = [
        {"type": "email", "email": "me@example.com", "field": {"id": "a", "ref": "mine"}},
        {"type": "email", "email": "boss@example.com", "field": {"id": "b", "ref": "manager"}},
    ]
    sub = parse_json(typeform(answers))
    assert sub.contact.email == "me@example.com"
    assert sub.fields == {"manager": "boss@example.com"}


def test_typeform_without_event_id_uses_the_response_token() -> None:
    data = typeform([text_answer("email", "a@example.com")])
    del data["event_id"]
    assert parse_json(data).provider_event_id == "tok-1"


def test_typeform_hidden_fields_are_attribution() -> None:
    hidden = {"utm_source": "Google", "gclid": "AbC123", "page_url": "https://example.com/a"}
    sub = parse_json(typeform([], hidden=hidden))
    assert sub.utm == {"utm_source": "google"}
    assert sub.click_ids == {"gclid": "AbC123"}
    assert sub.landing_page == "https://example.com/a"


# Other shapes


def test_webflow_form_name_is_the_form_id_when_form_id_is_missing() -> None:
    data = {"triggerType": "form_submission", "payload": {"name": "Contact Us", "data": {}}}
    sub = parse_json(data)
    assert (sub.form_id, sub.provider_event_id) == ("Contact Us", None)
    assert sub.contact.name is None  # the form's name is not the person's


@pytest.mark.parametrize("container", ["data", "fields"])
def test_generic_nested_object_of_fields_is_read(container: str) -> None:
    sub = parse_json({"form": "quote", container: {"Email": "a@example.com", "Size": "L"}})
    assert (sub.contact.email, sub.form_id, sub.fields) == ("a@example.com", "quote", {"Size": "L"})


def test_generic_list_of_name_value_records_is_read() -> None:
    records = [{"name": "phone", "value": "+14155550102"}, {"label": "Size", "values": ["L"]}]
    sub = parse_json({"fields": records})
    assert (sub.contact.phone, sub.fields) == ("+14155550102", {"Size": "L"})


def test_hubspot_property_objects_unwrap_their_value() -> None:
    sub = parse_json({"data": {"firstname": {"value": "Lee", "versions": []}}})
    assert sub.contact.first_name == "Lee"


def test_nested_objects_are_kept_as_json_text() -> None:
    sub = parse_json({"email": "a@example.com", "address": {"city": "Oakland"}})
    assert sub.fields == {"address": '{"city": "Oakland"}'}


def test_repeated_urlencoded_keys_join_in_kept_fields() -> None:
    sub = parse_fields([("email", "a@example.com"), ("topics[]", "Sales"), ("topics[]", "Ops")])
    assert sub.fields == {"topics[]": "Sales, Ops"}


# Field names and values


@pytest.mark.parametrize(
    ("key", "attribute"),
    [
        ("Your Name", "name"),
        ("FIRSTNAME", "first_name"),
        ("family-name", "last_name"),
        ("E-mail Address", "email"),
        ("Mobile Phone", "phone"),
        ("Organisation", "company"),
        ("How can we help?", "message"),
        ("  Enquiry  ", "message"),
    ],
)
def test_field_names_map_ignoring_case_and_punctuation(key: str, attribute: str) -> None:
    contact = parse_fields({key: "value"}).contact
    assert getattr(contact, attribute) == "value"


def test_first_and_last_name_leave_the_full_name_empty() -> None:
    contact = parse_fields({"fname": "Ada", "lname": "Byron"}).contact
    assert (contact.name, contact.first_name, contact.last_name) == (None, "Ada", "Byron")


def test_values_are_trimmed_and_empty_strings_count_as_absent() -> None:
    sub = parse_fields([("email", "  "), ("email_address", " b@example.com "), ("notes", "")])
    assert sub.contact.email == "b@example.com"
    assert sub.contact.message is None
    assert sub.fields == {}


@pytest.mark.parametrize("value", ["yes", "TRUE", "1", "on", "y", "checked", "agree", "Accepted"])
def test_consent_truthy_words_read_as_true(value: str) -> None:
    assert parse_fields({"sms_consent": value}).contact.consent is True


@pytest.mark.parametrize("value", ["no", "False", "0", "off", "n", ""])
def test_consent_falsy_words_and_blank_read_as_false(value: str) -> None:
    assert parse_fields({"opt-in": value}).contact.consent is False


def test_consent_other_text_reads_as_true_and_absent_consent_as_unknown() -> None:
    assert parse_fields({"consent": "I agree to be texted"}).contact.consent is True
    assert parse_fields({"email": "a@example.com"}).contact.consent is None


def test_json_scalars_become_strings() -> None:
    sub = parse_json({"phone": 14155550103, "consent": True, "seats": 2.5, "empty": None})
    assert (sub.contact.phone, sub.contact.consent) == ("14155550103", True)
    assert sub.fields == {"seats": "2.5"}


# Attribution


@pytest.mark.parametrize("value", ["LinkedIn_Q3", "linkedin-q3", " LinkedIn Q3 ", "LinkedIn+Q3"])
def test_utm_spelling_variants_normalise_to_one_value(value: str) -> None:
    assert normalise_utm(value) == "linkedin-q3"


def test_normalise_utm_decodes_and_collapses_separators() -> None:
    assert normalise_utm("Spring%20Sale__2024..Promo") == "spring-sale-2024-promo"


def test_utm_raw_holds_only_originals_that_normalising_changed() -> None:
    sub = parse_fields({"utm_source": "google", "utm_campaign": "Q3_Launch"})
    assert sub.utm == {"utm_source": "google", "utm_campaign": "q3-launch"}
    assert sub.utm_raw == {"utm_campaign": "Q3_Launch"}


@pytest.mark.parametrize("key", ["utm-source", "UTM_Source", "Utm Source"])
def test_utm_key_spellings_are_recognised(key: str) -> None:
    assert parse_fields({key: "Bing"}).utm == {"utm_source": "bing"}


def test_separator_only_utm_value_counts_as_absent() -> None:
    sub = parse_fields({"utm_term": "--"})
    assert (sub.utm, sub.utm_raw) == ({}, {})


def test_click_ids_are_stored_verbatim_under_lower_case_keys() -> None:
    sub = parse_fields({"GCLID": " Cj0KCQ-AbC_dEf ", "fbclid": "IwAR0aBc"})
    assert sub.click_ids == {"gclid": "Cj0KCQ-AbC_dEf", "fbclid": "IwAR0aBc"}


def test_attribution_comes_from_the_landing_page_query_when_fields_are_absent() -> None:
    url = "https://example.com/p?utm_source=Google&utm_medium=cpc&gclid=Cj0-XyZ&x=1"
    sub = parse_fields({"landing_page": url})
    assert sub.landing_page == url
    assert sub.utm == {"utm_source": "google", "utm_medium": "cpc"}
    assert sub.utm_raw == {"utm_source": "Google"}
    assert sub.click_ids == {"gclid": "Cj0-XyZ"}


def test_explicit_attribution_fields_win_over_the_landing_page_query() -> None:
    url = "https://example.com/p?utm_source=bing&gclid=FromUrl"
    sub = parse_fields({"page_url": url, "utm_source": "Google", "gclid": "FromField"})
    assert sub.utm == {"utm_source": "google"}
    assert sub.click_ids == {"gclid": "FromField"}


def test_a_bad_parameter_in_the_landing_page_query_is_skipped_not_fatal() -> None:
    url = "https://example.com/p?utm_source=a%00b&gclid=" + "x" * 501 + "&utm_medium=cpc"
    sub = parse_fields({"url": url})
    assert (sub.utm, sub.click_ids) == ({"utm_medium": "cpc"}, {})


@pytest.mark.parametrize("key", ["referrer", "Referer", "document.referrer", "HTTP_REFERER"])
def test_referrer_aliases_fill_the_referrer(key: str) -> None:
    assert parse_fields({key: "https://news.example.com/"}).referrer == "https://news.example.com/"


# Limits and errors


@pytest.mark.parametrize(
    ("key", "field", "limit"),
    [
        ("name", "name", 200),
        ("first_name", "first_name", 200),
        ("last_name", "last_name", 200),
        ("company", "company", 200),
        ("email", "email", 254),
        ("phone", "phone", 40),
        ("message", "message", 5000),
        ("utm_campaign", "utm_campaign", 250),
        ("msclkid", "msclkid", 500),
        ("landing_page", "landing_page", 2048),
        ("referrer", "referrer", 2048),
        ("Favourite colour", "Favourite colour", 2000),
    ],
)
def test_each_field_limit_allows_its_length_and_names_the_field_beyond(
    key: str, field: str, limit: int
) -> None:
    parse_fields({key: "a" * limit})
    assert invalid_field(urlencode({key: "a" * (limit + 1)}).encode(), FORM) == field


def test_more_than_100_kept_fields_is_rejected() -> None:
    parse_fields({f"q{i}": "x" for i in range(100)})
    assert invalid_field(urlencode({f"q{i}": "x" for i in range(101)}).encode(), FORM) == "fields"


def test_a_kept_field_name_over_100_characters_is_rejected() -> None:
    parse_fields({"k" * 100: "x"})
    assert invalid_field(urlencode({"k" * 101: "x"}).encode(), FORM) == "k" * 100


def test_control_characters_in_a_mapped_field_are_rejected() -> None:
    assert invalid_field(urlencode({"email": "a\x00@example.com"}).encode(), FORM) == "email"
    assert invalid_field(json.dumps({"utm_source": "g\x1b"}).encode()) == "utm_source"


def test_newlines_and_tabs_are_allowed_in_a_message() -> None:
    assert parse_fields({"message": "a\r\nb\tc"}).contact.message == "a\r\nb\tc"


def test_a_lone_surrogate_is_rejected() -> None:
    assert invalid_field(b'{"name": "\\ud800"}') == "name"


def test_invalid_utf8_is_rejected_as_the_body() -> None:
    assert invalid_field(b'{"name": "\xff"}') == "body"
    assert invalid_field(b"name=\xc3", FORM) == "body"


def test_percent_encoded_invalid_utf8_is_rejected_as_the_body() -> None:
    assert invalid_field(b"name=%C3%28", FORM) == "body"


def test_invalid_json_is_rejected_as_the_body() -> None:
    with pytest.raises(InvalidPayloadError, match=r"^invalid JSON: ") as caught:
        parse_form(b'{"email": ', JSON)
    assert caught.value.field == "body"


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
def test_json_top_level_must_be_an_object(body: bytes) -> None:
    assert invalid_field(body) == "body"


def test_deeply_nested_json_is_rejected_not_crashed() -> None:
    assert invalid_field(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") == "body"


def test_unbounce_data_json_that_is_not_json_names_data_json() -> None:
    assert invalid_field(b"data.json=%7Bnope&page_id=1", FORM) == "data.json"


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "multipart/form-data; boundary=x", "application/xml"],
)
def test_unsupported_content_types_name_what_is_accepted(content_type: str | None) -> None:
    with pytest.raises(UnsupportedContentTypeError) as caught:
        parse_form(b"{}", content_type)
    assert "application/json" in caught.value.message
    assert "application/x-www-form-urlencoded" in caught.value.message


@pytest.mark.parametrize(
    "content_type", ["Application/JSON; charset=UTF-8", " application/json ", "application/json;"]
)
def test_content_type_matches_ignoring_case_and_parameters(content_type: str) -> None:
    assert parse_form(b'{"email": "a@example.com"}', content_type).contact.email == "a@example.com"


def test_a_leading_byte_order_mark_is_ignored() -> None:
    body = '\ufeff{"email": "a@example.com"}'.encode()
    assert parse_form(body, JSON).contact.email == "a@example.com"


# Properties

CONTENT_TYPES = st.sampled_from([JSON, FORM, f"{FORM}; charset=utf-8", "text/plain"]) | st.text()
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
SHAPED = st.one_of(
    st.dictionaries(st.text(), JSON_VALUES),
    JSON_VALUES.map(lambda value: {"form_response": value, "event_id": "e"}),
    JSON_VALUES.map(lambda value: {"form_response": {"answers": value, "definition": value}}),
    JSON_VALUES.map(lambda value: {"triggerType": "form_submission", "payload": value}),
    JSON_VALUES.map(lambda value: {"data": value, "fields": value}),
    JSON_VALUES.map(lambda value: {"data.json": value, "page_id": value}),
)


def returns_or_raises_ours(body: bytes, content_type: str | None) -> None:
    try:
        result = parse_form(body, content_type)
    except LeadclockError:
        return
    assert isinstance(result, FormSubmission)


@given(body=st.binary(), content_type=st.none() | CONTENT_TYPES)
def test_any_bytes_either_parse_or_raise_a_leadclock_error(
    body: bytes, content_type: str | None
) -> None:
    returns_or_raises_ours(body, content_type)


@given(data=SHAPED)
def test_any_json_in_a_provider_shape_either_parses_or_raises_a_leadclock_error(
    data: dict[str, Any],
) -> None:
    returns_or_raises_ours(json.dumps(data).encode(), JSON)


@given(pairs=st.lists(st.tuples(st.text(), st.text()), max_size=8))
def test_any_urlencoded_fields_either_parse_or_raise_a_leadclock_error(
    pairs: list[tuple[str, str]],
) -> None:
    returns_or_raises_ours(urlencode(pairs).encode(), FORM)
