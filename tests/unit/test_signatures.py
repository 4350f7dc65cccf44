"""Inbound webhook verification: every scheme accepts its own signature and nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from chalicelib.adapters.signatures import (
    parse_twilio_form,
    verify_form_request,
    verify_twilio_request,
)
from chalicelib.domain.errors import ForbiddenError, InvalidPayloadError, UnauthorizedError

NOW = datetime(2026, 11, 5, 12, 0, 0, tzinfo=UTC)
BODY = b'{"email":"ann.lee@example.com","phone":"+14155550123"}'
WHSEC = "whsec_" + base64.b64encode(b"k" * 24).decode()
OTHER_WHSEC = "whsec_" + base64.b64encode(b"z" * 24).decode()
SECRET = "s3cret-value"


def verify(
    scheme: str,
    headers: dict[str, str],
    *,
    secret: str = SECRET,
    body: bytes = BODY,
    path_token: str | None = None,
) -> str | None:
    return verify_form_request(scheme, secret, body, headers, path_token=path_token, now=NOW)


def standard_headers(
    secret: str = WHSEC, *, at: datetime = NOW, body: bytes = BODY, msg_id: str = "msg_1"
) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def typeform_headers(secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"Typeform-Signature": "sha256=" + base64.b64encode(digest).decode()}


def webflow_headers(
    secret: str = SECRET, *, at: datetime = NOW, body: bytes = BODY
) -> dict[str, str]:
    millis = str(int(at.timestamp() * 1000))
    mac = hmac.new(secret.encode(), millis.encode() + b":" + body, hashlib.sha256)
    return {"x-webflow-signature": mac.hexdigest(), "x-webflow-timestamp": millis}


# Standard Webhooks


def test_standard_webhook_returns_its_webhook_id() -> None:
    assert verify("standard_webhooks", standard_headers(), secret=WHSEC) == "msg_1"


def test_standard_webhook_headers_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in standard_headers().items()}
    assert verify("standard_webhooks", headers, secret=WHSEC) == "msg_1"


def test_tampered_standard_webhook_body_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="invalid webhook-signature"):
        verify("standard_webhooks", standard_headers(), secret=WHSEC, body=BODY + b" ")


def test_standard_webhook_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="invalid webhook-signature"):
        verify("standard_webhooks", standard_headers(OTHER_WHSEC), secret=WHSEC)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_webhook_without_a_header_names_the_missing_header(name: str) -> None:
    headers = standard_headers()
    del headers[name]
    with pytest.raises(UnauthorizedError, match=f"missing {name} header"):
        verify("standard_webhooks", headers, secret=WHSEC)


@pytest.mark.parametrize("offset", [timedelta(seconds=-301), timedelta(seconds=301)])
def test_stale_or_future_standard_webhook_timestamp_is_rejected(offset: timedelta) -> None:
    headers = standard_headers(at=NOW + offset)
    with pytest.raises(UnauthorizedError, match="timestamp outside the 5-minute window"):
        verify("standard_webhooks", headers, secret=WHSEC)


@pytest.mark.parametrize("offset", [timedelta(seconds=-300), timedelta(seconds=300)])
def test_standard_webhook_timestamp_at_the_window_edge_is_accepted(offset: timedelta) -> None:
    headers = standard_headers(at=NOW + offset)
    assert verify("standard_webhooks", headers, secret=WHSEC) == "msg_1"


@pytest.mark.parametrize("raw", ["soon", "1.5", "+1793880000", "1_793_880_000"])
def test_non_integer_standard_webhook_timestamp_is_rejected(raw: str) -> None:
    headers = standard_headers() | {"webhook-timestamp": raw}
    with pytest.raises(UnauthorizedError, match="not an integer"):
        verify("standard_webhooks", headers, secret=WHSEC)


def test_standard_webhook_accepts_any_signature_during_key_rotation() -> None:
    old = standard_headers(OTHER_WHSEC)["webhook-signature"]
    headers = standard_headers()
    headers["webhook-signature"] = f"{old} v1a,bm90LWVkMjU1MTk= {headers['webhook-signature']}"
    assert verify("standard_webhooks", headers, secret=WHSEC) == "msg_1"


def test_standard_webhook_with_a_malformed_secret_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="not a valid whsec_ key"):
        verify("standard_webhooks", standard_headers(), secret="whsec_")


# Typeform


def test_typeform_signature_is_accepted() -> None:
    assert verify("typeform", typeform_headers()) is None


def test_tampered_typeform_body_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="invalid Typeform-Signature"):
        verify("typeform", typeform_headers(), body=BODY + b" ")


def test_typeform_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="invalid Typeform-Signature"):
        verify("typeform", typeform_headers("other"))


def test_typeform_without_a_signature_header_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="missing typeform-signature header"):
        verify("typeform", {})


# Webflow


def test_webflow_signature_is_accepted() -> None:
    assert verify("webflow", webflow_headers()) is None


def test_tampered_webflow_body_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="invalid x-webflow-signature"):
        verify("webflow", webflow_headers(), body=BODY + b" ")


def test_webflow_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="invalid x-webflow-signature"):
        verify("webflow", webflow_headers("other"))


@pytest.mark.parametrize("name", ["x-webflow-signature", "x-webflow-timestamp"])
def test_webflow_without_a_header_names_the_missing_header(name: str) -> None:
    headers = webflow_headers()
    del headers[name]
    with pytest.raises(UnauthorizedError, match=f"missing {name} header"):
        verify("webflow", headers)


def test_stale_webflow_timestamp_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="timestamp outside the 5-minute window"):
        verify("webflow", webflow_headers(at=NOW - timedelta(minutes=6)))


def test_future_webflow_timestamp_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="timestamp outside the 5-minute window"):
        verify("webflow", webflow_headers(at=NOW + timedelta(minutes=6)))


def test_webflow_timestamp_in_seconds_is_rejected_as_stale() -> None:
    headers = webflow_headers() | {"x-webflow-timestamp": str(int(NOW.timestamp()))}
    with pytest.raises(UnauthorizedError, match="5-minute window"):
        verify("webflow", headers)


# Shared token


@pytest.mark.parametrize(
    ("headers", "path_token"),
    [
        ({"X-Leadclock-Token": SECRET}, None),
        ({"authorization": f"Bearer {SECRET}"}, None),
        ({"Authorization": f"bearer  {SECRET} "}, None),
        ({}, SECRET),
    ],
    ids=["header", "bearer", "bearer-lowercase", "path"],
)
def test_shared_token_is_accepted_from_header_bearer_or_path(
    headers: dict[str, str], path_token: str | None
) -> None:
    assert verify("token", headers, path_token=path_token) is None


def test_wrong_shared_token_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="invalid token"):
        verify("token", {"X-Leadclock-Token": "guess"}, path_token="another-guess")


def test_missing_shared_token_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="missing X-Leadclock-Token header"):
        verify("token", {"Authorization": "Basic dXNlcjpwYXNz"})


def test_empty_configured_secret_never_matches_an_empty_token() -> None:
    with pytest.raises(UnauthorizedError, match="no secret is configured"):
        verify("token", {"X-Leadclock-Token": ""}, secret="", path_token="")


def test_unknown_scheme_is_rejected() -> None:
    with pytest.raises(UnauthorizedError, match="unknown signature scheme"):
        verify("hmac-md5", {})


# Twilio

TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}


def test_twilio_published_test_vector_is_accepted() -> None:
    verify_twilio_request("12345", TWILIO_URL, TWILIO_PARAMS, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_twilio_request_with_a_changed_param_is_forbidden() -> None:
    params = TWILIO_PARAMS | {"Digits": "9999"}
    with pytest.raises(ForbiddenError, match="invalid Twilio signature"):
        verify_twilio_request("12345", TWILIO_URL, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_twilio_request_without_a_signature_is_forbidden() -> None:
    with pytest.raises(ForbiddenError, match="invalid Twilio signature"):
        verify_twilio_request("12345", TWILIO_URL, TWILIO_PARAMS, None)


def test_twilio_request_signed_with_another_token_is_forbidden() -> None:
    signature = RequestValidator("54321").compute_signature(TWILIO_URL, TWILIO_PARAMS)
    with pytest.raises(ForbiddenError):
        verify_twilio_request("12345", TWILIO_URL, TWILIO_PARAMS, signature)


def test_blank_twilio_params_are_part_of_the_signed_string() -> None:
    body = b"From=%2B14155550123&FromCity=&Body=hi+there"
    params = parse_twilio_form(body)
    signature = RequestValidator("12345").compute_signature(TWILIO_URL, params)
    verify_twilio_request("12345", TWILIO_URL, params, signature)
    without_blank = {name: value for name, value in params.items() if value}
    with pytest.raises(ForbiddenError):
        verify_twilio_request("12345", TWILIO_URL, without_blank, signature)


def test_twilio_form_keeps_blank_values_and_decodes_plus_signs() -> None:
    assert parse_twilio_form(b"From=%2B14155550123&FromCity=&Body=hi+there") == {
        "From": "+14155550123",
        "FromCity": "",
        "Body": "hi there",
    }


@pytest.mark.parametrize("body", [b"Body=\xff", b"Body=%FF"])
def test_twilio_form_that_is_not_utf8_is_an_invalid_payload(body: bytes) -> None:
    with pytest.raises(InvalidPayloadError) as raised:
        parse_twilio_form(body)
    assert raised.value.field == "body"
