"""Structured logs: one JSON object per line, no full phone number or email ever written."""

from __future__ import annotations

import io
import json
import logging

import pytest

from chalicelib.logs import JsonFormatter, get_logger, mask_email, mask_phone, mask_text

TWILIO_SID = "CA" + "0123456789" * 3 + "ab"
LEAD_ID = "ld_1a2b3c4d5e6f7a8b"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e812345678"


def capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    # A private logger, so the test's handler is the only one and nothing propagates.
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+14155550123", "+*********23"),
        ("(415) 555-0123", "(***) ***-**23"),
        ("+44 20 7946 0958", "+** ** **** **58"),
    ],
)
def test_phone_keeps_only_its_last_two_digits(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_email_keeps_first_letter_and_domain() -> None:
    assert mask_email("ann.lee@example.com") == "a***@example.com"


def test_text_without_an_at_sign_is_not_an_email_and_is_hidden() -> None:
    assert mask_email("ann.lee") == "***"


def test_free_text_phones_and_emails_are_masked() -> None:
    text = "Ann (ann.lee@example.com) called from +1 415-555-0123 and 415.555.0199."
    assert mask_text(text) == (
        "Ann (a***@example.com) called from +* ***-***-**23 and ***.***.**99."
    )


def test_email_made_of_digits_is_masked_as_an_email() -> None:
    assert mask_text("sms gateway 4155550123@txt.att.net") == "sms gateway 4***@txt.att.net"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-05T12:34:56.123456Z",
        "2026-11-05T12:34:56+05:30",
        "2026-11-05 12:34:56.123456",
        "2026-11-05",
        "at 12:34:56.1234567",
        TWILIO_SID,
        "SM1234567890abcdef1234567890abcdef",
        LEAD_ID,
        "ld_1234567890123456",
        REQUEST_ID,
        "12345678-1234-1234-1234-123456789012",
        "call took 123456 ms",
    ],
)
def test_timestamps_sids_lead_ids_and_short_numbers_are_not_masked(text: str) -> None:
    assert mask_text(text) == text


def test_phone_next_to_a_date_is_masked_and_the_date_kept() -> None:
    assert mask_text("2026-11-05 4155550123") == "2026-11-05 ********23"


def test_logged_message_and_fields_come_out_masked_as_one_json_line() -> None:
    logger, stream = capture("test.fields")
    logger.warning(
        "lead %s from %s",
        LEAD_ID,
        "+14155550123",
        extra={
            "fields": {
                "lead_id": LEAD_ID,
                "call_sid": TWILIO_SID,
                "received_at": "2026-11-05T12:34:56.789Z",
                "contact": {"email": "ann.lee@example.com", "phones": ["(415) 555-0123"]},
                "attempts": 3,
                "level": "collides",
            }
        },
    )
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["level"] == "WARNING"
    assert record["logger"] == "test.fields"
    assert record["ts"].endswith("Z")
    assert record["msg"] == f"lead {LEAD_ID} from +*********23"
    assert record["lead_id"] == LEAD_ID
    assert record["call_sid"] == TWILIO_SID
    assert record["received_at"] == "2026-11-05T12:34:56.789Z"
    assert record["contact"] == {"email": "a***@example.com", "phones": ["(***) ***-**23"]}
    assert record["attempts"] == 3
    assert record["_level"] == "collides"


def test_exception_text_is_masked() -> None:
    logger, stream = capture("test.exc")
    try:
        raise ValueError("bad phone +14155550123")
    except ValueError:
        logger.exception("send failed")
    record = json.loads(stream.getvalue())
    assert "+14155550123" not in record["exc"]
    assert "+*********23" in record["exc"]


def test_get_logger_writes_json_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    logger = get_logger("leadclock.test.stderr")
    logger.info("owner ann.lee@example.com", extra={"fields": {"to": "+14155550123"}})
    record = json.loads(capsys.readouterr().err)
    assert record["msg"] == "owner a***@example.com"
    assert record["to"] == "+*********23"


def test_get_logger_twice_adds_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    first = get_logger("leadclock.test.twice")
    second = get_logger("leadclock.test.twice")
    assert first is second
    assert len(first.handlers) == 1
    second.info("once")
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_log_level_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")
    assert get_logger("leadclock.test.level").level == logging.WARNING


def test_unknown_log_level_falls_back_to_info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    assert get_logger("leadclock.test.badlevel").level == logging.INFO
