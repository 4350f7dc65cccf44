"""Listing leads by month partition: which months to read, and the opaque page cursor."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.dynamo.models import LeadModel
from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.ports import LeadQuery

# Listing without `since` looks back this many months at most, so an empty table stays cheap;
# with `since` it walks back to that month, but never more than _MAX_MONTHS partitions.
_LIST_MONTHS = 24
_MAX_MONTHS = 120
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_CURSOR_KEYS = ("lead_id", "created_month", "created_key")


def matches(row: LeadModel, query: LeadQuery) -> bool:
    """Whether a lead passes the query's source (first touch) and status filters."""
    return (query.source is None or row.first_touch.source == query.source) and (
        query.status is None or row.status == query.status
    )


def months(now: datetime, since: datetime | None, start: str | None) -> list[str]:
    """The month partitions to read, newest first, from `start` (a cursor's) or now."""
    now = now.astimezone(UTC)
    year, month = (int(start[:4]), int(start[5:7])) if start else (now.year, now.month)
    if since is None:
        floor, most = None, _LIST_MONTHS
    else:
        since = since.astimezone(UTC)
        floor, most = (since.year, since.month), _MAX_MONTHS
    out: list[str] = []
    while len(out) < most and (floor is None or (year, month) >= floor):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


def encode_cursor(month: str, row: LeadModel) -> str:
    """An opaque cursor that resumes right after `row` in `month`."""
    key = {
        "lead_id": {"S": row.lead_id},
        "created_month": {"S": row.created_month},
        "created_key": {"S": row.created_key},
    }
    return base64.urlsafe_b64encode(json.dumps({"m": month, "k": key}).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    """The month and key a cursor holds; InvalidPayloadError for one this API did not make."""
    if not cursor:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, binascii.Error):
        data = None
    # Anything short of the exact shape _encode writes would reach DynamoDB as a bad start key.
    if not (
        isinstance(data, dict)
        and isinstance(data.get("m"), str)
        and _MONTH.fullmatch(data["m"])
        and isinstance(data.get("k"), dict)
        and set(data["k"]) == set(_CURSOR_KEYS)
        and all(is_string_value(data["k"][name]) for name in _CURSOR_KEYS)
        and data["k"]["created_month"] == {"S": data["m"]}
    ):
        raise InvalidPayloadError("not a cursor this API returned", field="cursor")
    return data


def is_string_value(value: Any) -> bool:
    """Whether `value` is a DynamoDB string attribute value ({"S": "..."})."""
    return isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)
