"""A normalised inbound contact, the unit every capture endpoint produces and the service lands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.domain.model import Attribution


@dataclass(frozen=True)
class Capture:
    """One authenticated, validated inbound event, ready to become a touchpoint on a lead."""

    event_key: str  # the provider's idempotency key, e.g. "twilio:call:CA…"
    kind: str  # form_submitted | call_received | sms_received | call_status | message_status …
    channel: str  # form | call | sms | status | voicemail
    attribution: Attribution
    # Lookup keys in priority order: an exact SID first, then phone, then email.
    identities: tuple[str, ...] = ()
    # Keys this event may claim for its lead if nobody holds them yet.
    claims: tuple[str, ...] = ()
    phone: str | None = None
    email: str | None = None
    name: str | None = None
    company: str | None = None
    sms_opt_out: bool | None = None  # True sets, False clears, None leaves as is
    creates_lead: bool = True  # status callbacks only ever attach to a known lead
    # {"at": ISO time, "by": rep id}: this event is the lead's first response if none came yet.
    first_response: Mapping[str, str] | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, kept with the raw event so a replay needs nothing else."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Capture:
        """The inverse of to_dict."""
        values = dict(data)
        values["attribution"] = Attribution(**values["attribution"])
        values["identities"] = tuple(values.get("identities", ()))
        values["claims"] = tuple(values.get("claims", ()))
        return cls(**values)
