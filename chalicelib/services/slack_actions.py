"""A rep's click on a Slack alert's button: Claim, Contacted, or Call (the bridge).

Slack wants its answer within 3 seconds and, for a button click, ignores the body of that answer.
So the request only checks the signature and queues the click (`submit`); the alert worker runs
it (`run_click`: a few store reads, a conditional write, chat.update of the alerts sent, perhaps a
call) and answers through the click's `response_url`: the clicked message is replaced by the
marked one, and a refusal goes to the clicker alone (ephemeral)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib.domain.errors import (
    ConflictError,
    InvalidPayloadError,
    NotConfiguredError,
    NotFoundError,
    ProviderUnavailableError,
)
from chalicelib.domain.model import Lead
from chalicelib.domain.team import TeamConfig
from chalicelib.logs import get_logger
from chalicelib.ports import AlertContent, DeliveryError, Jobs, SlackResponder
from chalicelib.services import alert_text, responses
from chalicelib.services.worker import Worker

log = get_logger(__name__)

CLAIM_ACTION = alert_text.CLAIM_ACTION
CALL_ACTION = alert_text.CALL_ACTION
CONTACTED_ACTION = alert_text.CONTACTED_ACTION
ACTIONS = (CLAIM_ACTION, CALL_ACTION, CONTACTED_ACTION)
JOB_KIND = "slack_click"  # the click's job on the worker's queue (services/jobs.py)
NOT_A_REP = (
    "You are not a leadclock rep (your Slack member id is not in the team file), "
    "so nothing changed."
)


@dataclass(frozen=True)
class SlackClick:
    """One button click, as read from Slack's block_actions payload."""

    user_id: str  # Slack member id, U… or W…
    action_id: str
    lead_id: str  # the button's value
    message_text: str = ""  # the clicked message, to mark it
    message_blocks: tuple[Mapping[str, object], ...] = ()
    response_url: str = ""  # where the answer goes: Slack's, checked by functions/slack.py

    def to_job(self) -> dict[str, object]:
        """The click as a job's JSON payload."""
        return {
            "user_id": self.user_id,
            "action_id": self.action_id,
            "lead_id": self.lead_id,
            "message_text": self.message_text,
            "message_blocks": [dict(b) for b in self.message_blocks],
            "response_url": self.response_url,
        }

    @classmethod
    def from_job(cls, job: Mapping[str, object]) -> SlackClick:
        """Read a payload written by to_job; ValueError if it is not one."""
        texts = {}
        for name in ("user_id", "action_id", "lead_id", "message_text", "response_url"):
            value = job.get(name)
            if not isinstance(value, str) or (not value and name != "message_text"):
                raise ValueError(f"a slack click's {name} must be a non-empty string")
            texts[name] = value
        blocks = job.get("message_blocks")
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise ValueError("a slack click's message_blocks must be a list of objects")
        return cls(**texts, message_blocks=tuple(blocks))


@dataclass(frozen=True)
class SlackReply:
    """What to tell Slack: `message` replaces the clicked message; without one, `text` goes to
    the clicker alone (ephemeral) and nothing changed."""

    text: str
    message: AlertContent | None = None


def submit(click: SlackClick, *, jobs: Jobs) -> None:
    """Queue the click for the alert worker; raises if it was not queued (then Slack must be
    answered with an error, so it retries and the click is not lost)."""
    jobs.enqueue(JOB_KIND, click.to_job())


def run_click(
    job: Mapping[str, object], *, worker: Worker, responder: SlackResponder
) -> SlackReply | None:
    """The worker's half: act on a queued click and answer through its response_url. Raises
    when the job should be delivered again (the store or Slack failed for now); acting again
    is safe, every action being idempotent. None for a job that cannot be read."""
    try:
        click = SlackClick.from_job(job)
    except ValueError as exc:
        # Retrying cannot mend it; the rep sees no answer and can click again.
        log.error("unreadable slack click dropped", extra={"fields": {"error": str(exc)}})
        return None
    reply = handle_click(click, worker=worker)
    changed = reply.message is not None
    fields = {"lead_id": click.lead_id, "action": click.action_id, "changed": changed}
    try:
        if reply.message is not None:
            message = reply.message
            responder.respond(
                click.response_url,
                text=message.text,
                blocks=message.blocks,
                replace_original=True,
            )
        else:
            responder.respond(click.response_url, text=reply.text, replace_original=False)
    except DeliveryError as exc:
        if not exc.permanent:
            raise
        # An expired or used-up response_url (30 minutes, 5 answers): what was done stands.
        log.warning("slack reply refused", extra={"fields": {**fields, "error": exc.message}})
        return reply
    log.info("slack click answered", extra={"fields": fields})
    return reply


def handle_click(click: SlackClick, *, worker: Worker) -> SlackReply:
    """Act on a button click for the rep whose slack_user_id clicked it."""
    team = worker.team.load()
    rep = next((r for r in team.reps if r.slack_user_id == click.user_id), None)
    if rep is None:
        return SlackReply(NOT_A_REP)
    if click.action_id not in ACTIONS:
        return SlackReply("leadclock does not know this button; nothing changed.")
    try:
        if click.action_id == CALL_ACTION:
            return _call(click.lead_id, rep.id, worker)
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


def _call(lead_id: str, rep_id: str, worker: Worker) -> SlackReply:
    """Ring the rep's phone and bridge them to the lead; the answer says what happens next.
    A double tap or a redelivered job places no second call (the bridge refuses it)."""
    # The bridge loads Twilio's plumbing: only a Call click pays for it.
    from chalicelib.services import bridge

    try:
        started = bridge.start_call(lead_id, by=rep_id, worker=worker)
    except InvalidPayloadError:
        return SlackReply(NOT_A_REP)  # the rep left the team file since the click
    except ConflictError as exc:
        return SlackReply(f"Can't place the call: {exc.message}. Nothing changed.")
    except ProviderUnavailableError:
        # Said to the rep rather than retried: a call ringing minutes after the tap surprises.
        return SlackReply("Twilio could not place the call just now; press Call again.")
    except NotConfiguredError as exc:
        log.error("slack call not configured", extra={"fields": {"error": str(exc)}})
        lead = worker.store.get_lead(lead_id)
        number = f"; call {lead.phone} yourself" if lead and lead.phone else ""
        return SlackReply(f"Calling from Slack is not set up here{number}.")
    lead = worker.store.get_lead(lead_id)
    who = ((lead.name or lead.phone) if lead else None) or "the lead"
    phone = started.rep_phone
    if started.status == "duplicate":
        return SlackReply(
            f"Already calling your phone ({phone}); answer and press 1 to connect to {who}. "
            "No second call was placed."
        )
    return SlackReply(f"Calling your phone ({phone}); answer and press 1 to connect to {who}.")


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
