"""A rep's click on a Slack alert's button: Claim, Contacted, or Call (the number, for now).

Everything here is a few store reads and one conditional write, well inside Slack's 3-second
acknowledgement, so the click is handled in its own request: no hand-off to a queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.model import Lead
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import AlertContent
from chalicelib.services import alert_text, responses
from chalicelib.services.worker import Worker

CLAIM_ACTION = alert_text.CLAIM_ACTION
CALL_ACTION = alert_text.CALL_ACTION
CONTACTED_ACTION = alert_text.CONTACTED_ACTION
ACTIONS = (CLAIM_ACTION, CALL_ACTION, CONTACTED_ACTION)


@dataclass(frozen=True)
class SlackClick:
    """One button click, as read from Slack's block_actions payload."""

    user_id: str  # Slack member id, U… or W…
    action_id: str
    lead_id: str  # the button's value
    message_text: str = ""  # the clicked message, to mark it
    message_blocks: tuple[Mapping[str, object], ...] = ()


@dataclass(frozen=True)
class SlackReply:
    """What to tell Slack: `message` replaces the clicked message; without one, `text` goes to
    the clicker alone (ephemeral) and nothing changed."""

    text: str
    message: AlertContent | None = None


def handle_click(click: SlackClick, *, worker: Worker) -> SlackReply:
    """Act on a button click for the rep whose slack_user_id clicked it."""
    team = worker.team.load()
    rep = next((r for r in team.reps if r.slack_user_id == click.user_id), None)
    if rep is None:
        return SlackReply(
            "You are not a leadclock rep (your Slack member id is not in the team file), "
            "so nothing changed."
        )
    if click.action_id not in ACTIONS:
        return SlackReply("leadclock does not know this button; nothing changed.")
    try:
        if click.action_id == CALL_ACTION:
            return _call(click.lead_id, worker)
        if click.action_id == CLAIM_ACTION:
            # Idempotent: the same rep's repeated claim (a double tap, a Slack retry) lands once.
            lead = responses.claim(click.lead_id, by=rep.id, worker=worker)
        else:
            # Idempotent: one "contacted" per rep and lead.
            lead = responses.record_event(
                click.lead_id, kind="contacted", by=rep.id, at=None, worker=worker
            )
    except NotFoundError:
        # An answer in Slack rather than an HTTP error: Slack shows a failed request as a bare
        # warning icon on the button, which tells the rep nothing.
        return SlackReply(f"No such lead {click.lead_id} (deleted?); nothing changed.")
    note = _state(lead, team, worker.clock.now())
    original = AlertContent(
        subject="", text=click.message_text, html="", blocks=click.message_blocks
    )
    return SlackReply(note, alert_text.marked(original, note))


def _call(lead_id: str, worker: Worker) -> SlackReply:
    # The click-to-call bridge is not built yet: say so, and give the number to dial by hand.
    lead = worker.store.get_lead(lead_id)
    if lead is None:
        return SlackReply(f"No such lead {lead_id} (deleted?); nothing changed.")
    if lead.phone:
        return SlackReply(f"Calling from Slack is coming; for now call {lead.phone}.")
    email = f" Email {lead.email}." if lead.email else ""
    return SlackReply(f"This lead has no phone number.{email}")


def _state(lead: Lead, team: TeamConfig, now: datetime) -> str:
    """Who holds the lead now and since when: the outcome, whoever's click won."""
    if lead.first_response_at is not None:
        who = _name(team, lead.first_response_by)
        return f"Contacted by {who} {_when(lead.first_response_at, team, now)}"
    if lead.claimed_by is not None and lead.claimed_at is not None:
        return f"Claimed by {_name(team, lead.claimed_by)} {_when(lead.claimed_at, team, now)}"
    return "Not claimed yet"


def _name(team: TeamConfig, rep_id: str | None) -> str:
    rep = team.rep(rep_id) if rep_id else None
    return rep.name if rep else (rep_id or "someone")


def _when(at: datetime, team: TeamConfig, now: datetime) -> str:
    # The team's time zone: the one the SLA hours are read in, shared by everyone in the channel.
    zone = ZoneInfo(team.timezone)
    local, today = at.astimezone(zone), now.astimezone(zone)
    day = "" if local.date() == today.date() else f" on {local:%b %d}"
    return f"at {local:%H:%M} {local.tzname()}{day}"
