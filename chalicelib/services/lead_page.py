"""The lead page behind an alert's signed link: what the rep sees, and the actions it allows.

The link is the only credential, so every request verifies it first, and it grants exactly one
rep actions on exactly one lead: "open" allows viewing, claiming and marking contacted; "claim"
allows claiming. Looking never changes anything (link previews and scanners fetch pages too);
only a POST acts, and every action is idempotent, so a used link shown again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import ForbiddenError, NotFoundError
from chalicelib.domain.links import Grant, LinkError, verify
from chalicelib.domain.model import Lead
from chalicelib.domain.team import RepConfig
from chalicelib.services.responses import claim, record_event
from chalicelib.services.worker import Worker

ACTIONS = {"open": ("claim", "contacted"), "claim": ("claim",), "call": ()}


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
    if action == "claim":
        already = before.claimed_by == rep.id and before.paused_until is not None
        claim(g.lead_id, by=rep.id, worker=worker)
    else:
        already = before.first_response_at is not None
        record_event(g.lead_id, kind="contacted", by=rep.id, at=None, worker=worker)
    view = _view(g, rep, worker)
    return PageView(view.lead, rep, g, view.now, view.allowed, "already" if already else action)


def _check(token: str, secret: str, worker: Worker) -> tuple[Grant, RepConfig]:
    try:
        g = verify(token, secret, now=worker.clock.now())
    except LinkError as exc:
        raise LinkRefusedError(exc.reason) from None
    rep = worker.team.load().rep(g.rep)
    if rep is None:
        raise LinkRefusedError("unknown_rep")  # the rep left the team since the alert
    return g, rep


def _view(g: Grant, rep: RepConfig, worker: Worker) -> PageView:
    return PageView(_lead(g.lead_id, worker), rep, g, worker.clock.now(), ACTIONS[g.purpose])


def _lead(lead_id: str, worker: Worker) -> Lead:
    lead = worker.store.get_lead(lead_id)
    if lead is None:
        raise NotFoundError("this lead no longer exists")
    return lead
