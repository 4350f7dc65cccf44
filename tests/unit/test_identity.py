"""Identity: phones to E.164, emails trimmed and lower-cased, and the keys leads are found by."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.identity import (
    e164_or_none,
    email_key,
    normalise_email,
    normalise_phone,
    phone_key,
    sid_key,
    try_phone,
)


@pytest.mark.parametrize(
    "raw",
    [
        "(415) 555-0134",
        "415.555.0134",
        "415 555 0134",
        "+1 415 555 0134",
        "1-415-555-0134",
        "+14155550134",
    ],
)
def test_us_phone_spellings_normalise_to_one_e164(raw: str) -> None:
    assert normalise_phone(raw, "US") == "+14155550134"


def test_phone_without_country_code_is_read_in_the_default_region() -> None:
    assert normalise_phone("020 7183 8750", "GB") == "+442071838750"


def test_phone_with_country_code_ignores_the_default_region() -> None:
    assert normalise_phone("+44 20 7183 8750", "US") == "+442071838750"


@pytest.mark.parametrize("raw", ["not a phone", "", "+"])
def test_unparseable_phone_is_invalid_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        normalise_phone(raw, "US")

    assert caught.value.field == "phone"
    assert "not a phone number" in caught.value.message


@pytest.mark.parametrize("raw", ["123", "+1 555", "415-555-01345678"])
def test_phone_that_parses_but_cannot_exist_is_invalid(raw: str) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        normalise_phone(raw, "US")

    assert caught.value.field == "phone"


def test_invalid_phone_error_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        normalise_phone("abc", "US", field="mobile")

    assert caught.value.field == "mobile"


@pytest.mark.parametrize("raw", [None, "", "anonymous", "Restricted", "+266696687", "+7378742833"])
def test_withheld_or_missing_caller_id_is_no_phone(raw: str | None) -> None:
    assert try_phone(raw, "US") is None


def test_try_phone_normalises_a_real_number() -> None:
    assert try_phone("(415) 555-0134", "US") == "+14155550134"


@pytest.mark.parametrize("raw", ["Ann@Example.COM", "  ann@example.com\t", "ANN@EXAMPLE.COM"])
def test_email_is_trimmed_and_lower_cased(raw: str) -> None:
    assert normalise_email(raw) == "ann@example.com"


def test_unusual_but_deliverable_email_is_kept() -> None:
    assert normalise_email("o'brien+leads@sub.example.co.uk") == "o'brien+leads@sub.example.co.uk"


@pytest.mark.parametrize(
    "raw", ["ann", "ann@", "@example.com", "ann@example", "a b@example.com", ""]
)
def test_undeliverable_email_is_invalid_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        normalise_email(raw)

    assert caught.value.field == "email"


def test_identity_keys_say_what_kind_of_identity_they_are() -> None:
    assert phone_key("+14155550134") == "phone:+14155550134"
    assert email_key("ann@example.com") == "email:ann@example.com"
    assert sid_key("CA123") == "sid:CA123"


def test_a_phone_and_an_email_never_share_a_key() -> None:
    assert phone_key("x") != email_key("x") != sid_key("x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+14155550111", "+14155550111"),
        ("14155550111", None),
        ("+1 415 555 0111", None),
        ("+0123", None),
        ("client:ana", None),
        ("", None),
        (None, None),
    ],
)
def test_only_text_already_in_e164_form_passes_as_e164(
    text: str | None, expected: str | None
) -> None:
    assert e164_or_none(text) == expected
