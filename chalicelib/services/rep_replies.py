"""A text to the team's alerts number: a rep answering an SMS alert, or a lead who wrote there.

Reps are recognised by their phone (the team file's `phone`). A rep's reply is one word,
optionally followed by a lead's ref (every SMS alert ends with one, e.g. "ref K7Q2"):
  1 or CLAIM   claim the lead: escalation pauses for the policy's grace period
  CALL         the click-to-call bridge rings the rep, then connects them to the lead
  DONE         mark the lead contacted: the clock stops
Case and punctuation do not matter ("done k7q2", "Claim!"); anything else gets the help text.

Which lead: the ref's, among the leads of the rep's recent SMS alerts; without a ref, the lead
of the rep's most recent alert. DONE without a ref is the exception when the rep has more than
one open alerted lead: a wrong "contacted" records a speed-to-lead that cannot be taken back,
so the reply lists the open leads' refs and asks for DONE <ref>.

A repeated delivery (Twilio retrying a slow answer) acts once without keeping its MessageSid: a
claim and "contacted" are idempotent per rep and lead, and the bridge places no second call for
the same rep and lead within its own window.

A sender who is not a rep is a lead (their texts fall back to the alerts number when the team
has no tracking number for them): the message lands like any inbound SMS, and gets no reply."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import (
    ConflictError,
    InvalidPayloadError,
    NotConfiguredError,
    NotFoundError,
    ProviderUnavailableError,
)
from chalicelib.domain.identity import try_phone
from chalicelib.domain.inbound import START_WORDS, STOP_WORDS
from chalicelib.domain.model import Lead
from chalicelib.domain.team import RepConfig, TeamConfig
from chalicelib.logs import get_logger
from chalicelib.ports import AlertRecord, Secrets, TwilioVerifier
from chalicelib.services import responses
from chalicelib.services.alert_text import REF_LENGTH, duration, lead_ref
from chalicelib.services.capture import capture_twilio_event, verified_twilio
from chalicelib.services.worker import Worker

log = get_logger(__name__)

CLAIM, CALL, DONE, HELP, QUIET = "claim", "call", "done", "help", "quiet"
_VERBS = {"1": CLAIM, "CLAIM": CLAIM, "CALL": CALL, "DONE": DONE}
# How far back a reply can reach: a rep's last alerts, most of them a few per lead.
RECENT_ALERTS = 25
# Alerts that can have reached the rep's phone, and so be what they are answering. Held, failed,
# cancelled and undelivered ones never showed on it.
SEEN = frozenset({"sent", "delivered", "unconfirmed"})
# Leads named in a reply that lists refs (SMS stays short), and read to find the open ones.
LISTED = 3
CHECKED = 10

HELP_TEXT = (
    "leadclock: reply 1 (claim), CALL or DONE to act on your latest alert; "
    "add its ref for another lead, e.g. DONE K7Q2."
)


@dataclass(frozen=True)
class Command:
    """A rep's reply, read: what to do, and to which lead's ref (None: the latest alert)."""

    action: str  # claim | call | done | help | quiet (an opt-out word: Twilio answers it)
    ref: str | None = None


def parse(body: str) -> Command:
    """The command in an SMS body; HELP for anything that is not one."""
    whole = body.strip().upper()
    if whole in STOP_WORDS or whole in START_WORDS:
        # Twilio itself handles these on the number (and blocks our texts after STOP).
        return Command(QUIET)
    words = re.findall(r"[A-Z0-9]+", whole)
    verb = _VERBS.get(words[0]) if words else None
    if verb is None:
        return Command(HELP)
    rest = words[1:]
    if rest[:1] == ["REF"]:
        rest = rest[1:]
    if not rest:
        return Command(verb)
    if len(rest) == 1 and len(rest[0]) == REF_LENGTH:
        return Command(verb, rest[0])
    return Command(HELP)


@dataclass(frozen=True)
class SmsReply:
    """What the alerts number answers (None: nothing), and who and what the text was about."""

    text: str | None
    rep: str | None = None  # the rep who replied; None for a lead's text
    lead_id: str | None = None  # the lead acted on, or the one a lead's text landed on


def handle_alerts_sms(
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    secrets: Secrets,
    verify: TwilioVerifier,
    worker: Worker,
) -> SmsReply:
    """A text Twilio posted from the alerts number: checked (ForbiddenError, before anything is
    read or stored), then a rep's reply acted on, or anyone else's landed as a lead SMS."""
    team = verified_twilio(
        url, body, params, signature, team=worker.team, secrets=secrets, verify=verify
    )
    rep = rep_by_phone(team, params.get("From"))
    if rep is None:
        landed = capture_twilio_event(
            "sms",
            url,
            body,
            params,
            signature,
            team=worker.team,
            secrets=secrets,
            verify=verify,
            store=worker.store,
            routing=worker.routing,
            clock=worker.clock,
            timers=worker.timers,
        )
        return SmsReply(None, lead_id=landed.lead_id)
    reply = answer(rep, parse(params.get("Body", "")), worker=worker)
    log.info(
        "rep replied by sms",
        extra={
            "fields": {
                "rep": rep.id,
                "lead_id": reply.lead_id,
                "message_sid": params.get("MessageSid"),
            }
        },
    )
    return reply


def rep_by_phone(team: TeamConfig, raw: str | None) -> RepConfig | None:
    """The rep whose phone sent the text (the first, should two share one), if any."""
    phone = try_phone(raw, team.default_phone_region)
    if phone is None:
        return None
    # The team file holds reps' phones in E.164 already (team_checks refuses anything else).
    return next((r for r in team.reps if r.phone == phone), None)


def answer(rep: RepConfig, command: Command, *, worker: Worker) -> SmsReply:
    """Act on `command` for `rep` and say what happened, in one short SMS."""
    if command.action == QUIET:
        return SmsReply(None, rep.id)
    if command.action == HELP:
        return SmsReply(HELP_TEXT, rep.id)
    alerts = worker.alerts.recent_sms_for_rep(rep.id, limit=RECENT_ALERTS)
    alerted = latest_first(a for a in alerts if a.status in SEEN)
    if command.ref is not None:
        # A ref names its lead outright, so any SMS alert the rep was sent will do, even one
        # logged undelivered: a carrier's delivery report can be wrong, the rep's ref cannot.
        lead_id = next((i for i in latest_first(alerts) if lead_ref(i) == command.ref), None)
        if lead_id is None:
            listed = _listing(alerted, worker)
            return SmsReply(f"No recent alert to you has ref {command.ref}. {listed}", rep.id)
    elif not alerted:
        return SmsReply(
            "leadclock: you have no recent alerts to act on. Replies work on the leads "
            "of alerts texted to you.",
            rep.id,
        )
    else:
        lead_id = alerted[0]
        if command.action == DONE:
            waiting = _open_leads(alerted[:CHECKED], worker)
            if lead_id in waiting and len(waiting) > 1:
                listed = _listing(waiting, worker)
                return SmsReply(f"Which lead? {listed} Reply DONE and its ref.", rep.id)
    try:
        if command.action == CLAIM:
            text = _claim(lead_id, rep, worker)
        elif command.action == DONE:
            text = _done(lead_id, rep, worker)
        else:
            text = _call(lead_id, rep, worker)
    except NotFoundError:
        text = f"Lead ref {lead_ref(lead_id)} no longer exists; nothing changed."
    return SmsReply(text, rep.id, lead_id)


def latest_first(alerts: Iterable[AlertRecord]) -> list[str]:
    """The alerts' leads, the most recently alerted first, each once."""
    # A held alert goes out hours after it was logged: ordered by when it was sent.
    ordered = sorted(alerts, key=_sent_at, reverse=True)
    return list(dict.fromkeys(a.lead_id for a in ordered))


def _sent_at(alert: AlertRecord) -> datetime:
    return alert.called_at or alert.created_at


def _claim(lead_id: str, rep: RepConfig, worker: Worker) -> str:
    lead = responses.claim(lead_id, by=rep.id, worker=worker)
    team = worker.team.load()
    if lead.first_response_at is not None:
        who = _name(team, lead.first_response_by)
        return f"{_label(lead)} was already contacted by {who}; nothing to claim."
    if lead.claimed_by != rep.id:
        return f"{_name(team, lead.claimed_by)} claimed {_label(lead)} first."
    return f"Claimed {_label(lead)}. Reply CALL to call them, DONE when you've reached them."


def _done(lead_id: str, rep: RepConfig, worker: Worker) -> str:
    lead = responses.record_event(lead_id, kind="contacted", by=rep.id, at=None, worker=worker)
    if lead.first_response_by != rep.id:
        who = _name(worker.team.load(), lead.first_response_by)
        return f"{_label(lead)} was already contacted by {who}; yours is noted too."
    speed = ""
    if lead.speed_wall_s is not None:
        speed = f" after {duration(lead.speed_wall_s)}"
        if lead.sla_met is not None:
            speed += ", SLA met" if lead.sla_met else ", SLA missed"
    return f"Marked {_label(lead)} contacted{speed}. Thanks!"


def _call(lead_id: str, rep: RepConfig, worker: Worker) -> str:
    # Imported here: the bridge and what it needs load only for the reps who ask for a call.
    from chalicelib.services import bridge

    lead = worker.store.get_lead(lead_id)
    if lead is None:
        raise NotFoundError("no such lead", field="lead_id")
    label = _label(lead)
    try:
        started = bridge.start_call(lead_id, by=rep.id, worker=worker)
    except ProviderUnavailableError:
        return f"Couldn't place the call to {label} just now; reply CALL again in a minute."
    except (ConflictError, InvalidPayloadError) as exc:
        # The bridge says why: no phone to ring, nothing to call from, Twilio refused...
        return f"Can't call {label}: {exc.message}."
    except NotConfiguredError:
        # This deployment has no public URL or link secret for the bridge's callbacks.
        by_hand = f" on {lead.phone}" if lead.phone else ""
        return f"Calling from SMS isn't set up here; call {label}{by_hand} yourself."
    if started.status == "duplicate":
        return f"Already calling you for {label}; pick up to be connected."
    return f"Calling you now: pick up and press 1 to be connected to {label}."


def _open_leads(lead_ids: list[str], worker: Worker) -> list[str]:
    """The leads among `lead_ids` still waiting for a first response, in the same order."""
    return [i for i in lead_ids if (lead := worker.store.get_lead(i)) and _is_open(lead)]


def _is_open(lead: Lead) -> bool:
    return lead.first_response_at is None


def _listing(lead_ids: list[str], worker: Worker) -> str:
    """The first few leads by ref and name."""
    named = []
    for lead_id in lead_ids[:LISTED]:
        lead = worker.store.get_lead(lead_id)
        if lead is not None:
            named.append(f"{lead_ref(lead_id)} {_who(lead)}")
    if not named:
        return "You have no recent alerts."
    more = f" and {len(lead_ids) - LISTED} more" if len(lead_ids) > LISTED else ""
    return f"Your alerts: {', '.join(named)}{more}."


def _who(lead: Lead) -> str:
    return lead.name or lead.phone or lead.email or "a lead"


def _label(lead: Lead) -> str:
    """The lead as a reply names it: who, where from, and the ref to reply with."""
    return f"{_who(lead)} ({lead.first_touch.source}, ref {lead_ref(lead.lead_id)})"


def _name(team: TeamConfig, rep_id: str | None) -> str:
    rep = team.rep(rep_id) if rep_id else None
    return rep.name if rep else (rep_id or "someone")
