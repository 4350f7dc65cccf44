"""Who a person is: E.164 phone and lower-cased email, turned into lookup keys."""

from __future__ import annotations

import re

import phonenumbers

from chalicelib.domain.errors import InvalidPayloadError

# Deliberately loose: the form tool already validated the address; we only refuse what can
# never be delivered to, so a real lead is not turned away over an unusual address.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_phone(raw: str, default_region: str, *, field: str = "phone") -> str:
    """E.164 form of `raw`, read in `default_region` when it has no country code."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPayloadError(f"not a phone number: {exc}", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPayloadError("not a valid phone number", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_phone(raw: str | None, default_region: str) -> str | None:
    """E.164 form of `raw`, or None when it is absent or no real number (withheld caller id)."""
    if not raw:
        return None
    try:
        return normalise_phone(raw, default_region)
    except InvalidPayloadError:
        return None


_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def e164_or_none(text: str | None) -> str | None:
    """`text` when it is already written in E.164 form, else None: no parsing, no guessing."""
    return text if text and _E164.fullmatch(text) else None


def normalise_email(raw: str, *, field: str = "email") -> str:
    """`raw` trimmed and lower-cased, refused when it cannot be an address."""
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidPayloadError("not an email address", field=field)
    return email


def phone_key(e164: str) -> str:
    """The identity key a phone number is looked up by."""
    return f"phone:{e164}"


def email_key(email: str) -> str:
    """The identity key an email address is looked up by."""
    return f"email:{email}"


def sid_key(sid: str) -> str:
    """The identity key a Twilio call or message SID is looked up by (status callbacks)."""
    return f"sid:{sid}"
