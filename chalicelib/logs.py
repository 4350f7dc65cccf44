"""Structured JSON logs, one object per line on stderr, with phone numbers and emails masked.

Convention: pass structured data under the single `fields` key of `extra`::

    log = get_logger(__name__)
    log.info("lead captured", extra={"fields": {"lead_id": lead.id, "phone": lead.phone}})

which prints `{"ts": "...Z", "level": "INFO", "logger": "...", "msg": "lead captured",
"lead_id": "...", "phone": "+*********23"}`. Any other `extra` key is ignored. A field whose name
collides with a base key (ts, level, logger, msg, exc, stack) is written with a leading underscore.
Every string in the message and the fields (nested dicts and lists included) goes through
`mask_text`; numbers, booleans and None pass through unchanged, other objects are logged as their
masked `str()`. Logs must never carry a full phone number or email (field.md), so keep phones as
strings: an int is not masked. The other way round, any run of seven or more digits inside a string
(a unix time, an order number) reads as a phone and is masked, so log such values as ints.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

BASE_KEYS = ("ts", "level", "logger", "msg", "exc", "stack")

# Identifiers and timestamps that are digit-heavy but carry no personal data. They are matched
# first, so the phone rule below never sees them (UUIDs: Lambda request ids).
_KEEP = (
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r"|\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"
)
# Starts only at the beginning of a run of local-part characters, so scanning stays linear.
_EMAIL = r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# Seven or more digits with spaces, dashes, dots or parentheses between them. Being glued to a
# letter, digit or underscore on either side disqualifies a run, which protects Twilio SIDs
# (CA + 32 hex) and lead ids (ld_ + hex).
_PHONE = r"(?<![\w+])\+?\(?\d(?:[ .()-]{0,2}\d){6,}(?!\w)"
_PATTERN = re.compile(f"(?P<keep>{_KEEP})|(?P<email>{_EMAIL})|(?P<phone>{_PHONE})")


def mask_phone(phone: str) -> str:
    """Replace every digit but the last two with `*`, keeping `+` and punctuation."""
    to_hide = sum(char.isdigit() for char in phone) - 2
    masked = []
    for char in phone:
        if char.isdigit() and to_hide > 0:
            to_hide -= 1
            masked.append("*")
        else:
            masked.append(char)
    return "".join(masked)


def mask_email(email: str) -> str:
    """Keep the first character of the local part and the domain: `a***@example.com`."""
    local, at, domain = email.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_text(text: str) -> str:
    """Mask every phone number and email address found in free text."""
    return _PATTERN.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    if match.group("email") is not None:
        return mask_email(match.group())
    if match.group("phone") is not None:
        return mask_phone(match.group())
    return match.group()


def _mask_value(value: object) -> object:
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(key): _mask_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_mask_value(item) for item in value]
    return mask_text(str(value))


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON with personal data masked."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a single JSON line."""
        created = datetime.fromtimestamp(record.created, tz=UTC)
        out: dict[str, object] = {
            "ts": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        if record.exc_info:
            out["exc"] = mask_text(self.formatException(record.exc_info))
        if record.stack_info:
            out["stack"] = mask_text(self.formatStack(record.stack_info))
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                name = str(key)
                out[f"_{name}" if name in BASE_KEYS else name] = _mask_value(value)
        return json.dumps(out, default=str)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time of each record."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one record, re-reading sys.stderr so a replaced stream (capsys) is honoured."""
        self.stream = sys.stderr
        super().emit(record)


def get_logger(name: str) -> logging.Logger:
    """Return the named logger, writing masked JSON lines to stderr at `LOG_LEVEL` (INFO)."""
    logger = logging.getLogger(name)
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(_level_from_env())
        # Lambda installs its own root handler; propagating would print every line twice.
        logger.propagate = False
    return logger


def _level_from_env() -> int:
    name = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    return logging.getLevelNamesMapping().get(name, logging.INFO)
