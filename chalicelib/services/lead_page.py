"""The lead page behind an alert's signed link: what the rep sees, and the actions it allows.

The link is the only credential, so every request verifies it first, and it grants exactly one
rep actions on exactly one lead: "open" allows viewing, claiming, calling through the bridge and
marking contacted; "claim" allows claiming, "call" calling. A bridge token (in Twilio's URLs for
a call) opens no page. Looking never changes anything (link previews and scanners fetch pages too);
only a POST acts, and every action is idempotent, so a used link shown again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib.domain.errors import (
    ConflictError,
    ForbiddenError,
    NotConfiguredError,
    NotFoundError,
    ProviderUnavailableError,
)
from chalicelib.domain.links import Grant, LinkError, verify
from chalicelib.domain.model import Lead
from chalicelib.domain.team import RepConfig
from chalicelib.services.responses import claim, record_event
from chalicelib.services.worker import Worker

ACTIONS = {
    "open": ("claim", "call", "contacted"),
    "claim": ("claim",),
    "call": ("call",),
    "bridge": (),
    "board": (),
}


class LinkRefusedError(ForbiddenError):
    """The link cannot be used: expired, altered, malformed, or not for this action."""

    code = "link_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PageView:
    """Everything the page shows: the lead, who is looking, what they may do, what just happened."""

    lead: Lead
    rep: RepConfig
    grant: Grant
    now: datetime
    allowed: tuple[str, ...]
    done: str | None = None  # the action just taken, or "already" when it had been taken before
    asked: str | None = None  # what the lead wrote when they got in touch, if anything
    names: Mapping[str, str] = field(default_factory=dict)  # rep id -> name, for who claimed
    notice: str | None = None  # why an action could not be taken (a call with no phone to ring)


def open_page(token: str, *, secret: str, worker: Worker) -> PageView:
    """The page for `token`; LinkRefusedError or NotFoundError if it cannot be shown."""
    g, rep = _check(token, secret, worker)
    return _view(g, rep, worker)


def act(token: str, action: str, *, secret: str, worker: Worker) -> PageView:
    """Take `action` ("claim" or "contacted") on the link's lead as the link's rep."""
    g, rep = _check(token, secret, worker)
    if action not in ACTIONS[g.purpose]:
        raise LinkRefusedError("not_allowed")
    before = _lead(g.lead_id, worker)
    if action == "call":
        return _call(g, rep, worker)
    if action == "claim":
        already = before.claimed_by == rep.id and before.paused_until is not None
        claim(g.lead_id, by=rep.id, worker=worker)
    else:
        already = before.first_response_at is not None
        record_event(g.lead_id, kind="contacted", by=rep.id, at=None, worker=worker)
    view = _view(g, rep, worker)
    return replace(view, done="already" if already else action)


def _call(g: Grant, rep: RepConfig, worker: Worker) -> PageView:
    """Start the bridge: the rep's phone rings. A refusal (no phone to ring) is shown on the page
    rather than as an error: the rep can still call from their own phone."""
    from chalicelib.services.bridge import start_call

    try:
        call = start_call(g.lead_id, by=rep.id, worker=worker)
    except (ConflictError, ProviderUnavailableError, NotConfiguredError) as exc:
        message = exc.message if isinstance(exc, ProviderUnavailableError) else str(exc)
        return replace(_view(g, rep, worker), notice=f"Could not start the call: {message}")
    done = "call" if call.status == "calling" else "call_again"
    return replace(_view(g, rep, worker), done=done)


def _check(token: str, secret: str, worker: Worker) -> tuple[Grant, RepConfig]:
    try:
        g = verify(token, secret, now=worker.clock.now())
    except LinkError as exc:
        raise LinkRefusedError(exc.reason) from None
    if g.purpose in ("bridge", "board"):
        raise LinkRefusedError("not_allowed")  # a call's Twilio URL or the board, not a lead
    rep = worker.team.load().rep(g.rep)
    if rep is None:
        raise LinkRefusedError("unknown_rep")  # the rep left the team since the alert
    return g, rep


def _view(g: Grant, rep: RepConfig, worker: Worker) -> PageView:
    lead = _lead(g.lead_id, worker)
    now = worker.clock.now()
    names = {r.id: r.name for r in worker.team.load().reps}
    return PageView(lead, rep, g, now, ACTIONS[g.purpose], asked=_asked(lead, worker), names=names)


def _asked(lead: Lead, worker: Worker) -> str | None:
    """The lead's own words: the first form message or SMS on their timeline."""
    for touch in worker.store.touchpoints(lead.lead_id):
        text = touch.detail.get("message") or (
            touch.detail.get("body") if touch.kind == "sms_received" else None
        )
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def _lead(lead_id: str, worker: Worker) -> Lead:
    lead = worker.store.get_lead(lead_id)
    if lead is None:
        raise NotFoundError("this lead no longer exists")
    return lead
