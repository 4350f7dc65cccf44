"""Reading leads back: one lead with its timeline, or a filtered page of leads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import InvalidPayloadError, NotFoundError
from chalicelib.domain.model import Lead, Touchpoint
from chalicelib.ports import LeadPage, LeadQuery, LeadStore

MAX_PAGE = 100
# Cursors are opaque tokens the store made (base64 of its position). Anything else is refused
# here, whichever store is behind, so garbage never reaches a store's decoder.
_CURSOR = re.compile(r"[A-Za-z0-9+/=_-]{1,2048}")


@dataclass(frozen=True)
class LeadView:
    """A lead with its touchpoints in time order."""

    lead: Lead
    touchpoints: list[Touchpoint]


def get_lead(lead_id: str, *, store: LeadStore) -> LeadView:
    """The lead and its timeline; NotFoundError if there is no such lead."""
    lead = store.get_lead(lead_id)
    if lead is None:
        raise NotFoundError("no such lead", field="lead_id")
    return LeadView(lead, store.touchpoints(lead_id))


def list_leads(
    *,
    since: str | None,
    source: str | None,
    status: str | None,
    limit: str | None,
    cursor: str | None,
    store: LeadStore,
) -> LeadPage:
    """Leads newest first, filtered; query-string values are validated here."""
    return store.list_leads(
        LeadQuery(
            since=_since(since),
            source=source or None,
            status=status or None,
            limit=page_limit(limit),
            cursor=_cursor(cursor),
        )
    )


def _cursor(value: str | None) -> str | None:
    if not value:
        return None
    if not _CURSOR.fullmatch(value):
        raise InvalidPayloadError("not a cursor this API returned", field="cursor")
    return value


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPayloadError("not an ISO 8601 date-time", field="since") from None
    if parsed.tzinfo is None:
        raise InvalidPayloadError("needs a time zone, e.g. 2026-11-01T00:00:00Z", field="since")
    return parsed


def page_limit(value: str | None, maximum: int = MAX_PAGE) -> int:
    """A `limit` query value: 50 when absent, else a whole number from 1 to `maximum`."""
    if not value:
        return 50
    # isdigit() alone accepts "²", which int() refuses.
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= maximum:
        raise InvalidPayloadError(f"must be a whole number from 1 to {maximum}", field="limit")
    return int(value)
