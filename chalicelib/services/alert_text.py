"""What an alert says: the lead, where it came from, how long it has waited, against which SLA,
and one-tap links (claim, call) when there are any. One content, three channel forms."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from html import escape

from chalicelib.domain.model import Lead
from chalicelib.domain.sla import LadderStep, SlaPolicy
from chalicelib.ports import AlertContent

# Slack button ids; the rep-actions issue wires their handler.
CLAIM_ACTION, CALL_ACTION, CONTACTED_ACTION = "claim_lead", "call_lead", "contacted_lead"

# A lead's short reference in an SMS alert, which the rep can send back ("CLAIM K7Q2"). No 0/O,
# 1/I/L: a ref is read off a phone screen and typed again by thumb.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REF_LENGTH = 4


def lead_ref(lead_id: str) -> str:
    """The lead's short reference, e.g. K7Q2: the same for the same lead in every alert.
    Not unique across all leads (31**4 values); a reply's ref is only looked up among the
    replying rep's own recent alerts."""
    number = int.from_bytes(hashlib.sha256(lead_id.encode()).digest()[:8], "big")
    chars = []
    for _ in range(REF_LENGTH):
        number, index = divmod(number, len(REF_ALPHABET))
        chars.append(REF_ALPHABET[index])
    return "".join(chars)


def reply_hint(lead_id: str) -> str:
    """What an SMS alert's recipient can text back (chalicelib/services/rep_replies.py)."""
    return f"Reply 1 to claim, CALL to call, DONE when contacted (ref {lead_ref(lead_id)})."


def duration(seconds: float) -> str:
    """A short human duration: 45s, 3m 05s, 2h 10m, 3d 4h."""
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def content(
    lead: Lead,
    rung: LadderStep,
    policy: SlaPolicy,
    now: datetime,
    *,
    owner_name: str | None,
    links: Mapping[str, str] | None = None,
) -> AlertContent:
    """The alert for `rung` of `lead`'s ladder at `now`."""
    who = lead.name or lead.phone or lead.email or lead.lead_id
    touch = lead.first_touch
    where = touch.source + (f" / {touch.campaign}" if touch.campaign else "")
    waited = duration((now - lead.created_at).total_seconds())
    target = duration(policy.target_s)
    due = lead.sla_due_at
    if due is None or now < due:
        state = f"due in {duration((due - now).total_seconds())}" if due else "no SLA"
    else:
        state = f"SLA missed by {duration((now - due).total_seconds())}"
    owner = owner_name or "nobody (unassigned)"
    headline = _headline(rung.name, who)
    facts = [
        ("Lead", who),
        ("Source", where),
        ("Waiting", f"{waited} ({state}; SLA {target})"),
        ("Owner", owner),
        ("Phone", lead.phone or "-"),
        ("Email", lead.email or "-"),
    ]
    links = dict(links or {})
    text = f"leadclock: {headline}. {where}, waiting {waited}, {state} (SLA {target})."
    text += f" Owner: {owner}."
    if lead.phone:
        text += f" Call {lead.phone}."
    urls = "".join(f" {name.capitalize()}: {url}" for name, url in links.items())
    return AlertContent(
        subject=f"[leadclock] {headline} ({waited})",
        text=text + urls,
        # Only a text message can be answered by text; the link stays last, where phones
        # show it as a tappable preview.
        sms=f"{text} {reply_hint(lead.lead_id)}{urls}",
        html=_html(headline, facts, links),
        blocks=_blocks(headline, facts, lead.lead_id, links),
        links=links,
    )


def _headline(step_name: str, who: str) -> str:
    if step_name == "unassigned":
        return f"Nobody could take new lead {who}"
    if step_name.startswith("warn"):
        return f"SLA about to be missed for {who}"
    return f"{step_name.capitalize()}: {who} is still waiting"


def _html(headline: str, facts: list[tuple[str, str]], links: Mapping[str, str]) -> str:
    rows = "".join(
        f'<tr><td style="padding:4px 12px 4px 0;color:#555">{escape(k)}</td>'
        f'<td style="padding:4px 0"><b>{escape(v)}</b></td></tr>'
        for k, v in facts
    )
    buttons = "".join(
        f'<a href="{escape(url, quote=True)}" style="display:inline-block;margin:8px 8px 0 0;'
        f'padding:10px 16px;background:#1a73e8;color:#fff;text-decoration:none;border-radius:4px">'
        f"{escape(name.capitalize())}</a>"
        for name, url in links.items()
    )
    return (
        '<div style="font-family:Arial,sans-serif;font-size:15px;max-width:480px">'
        f'<h2 style="font-size:18px">{escape(headline)}</h2>'
        f"<table>{rows}</table>{buttons}</div>"
    )


def _blocks(
    headline: str, facts: list[tuple[str, str]], lead_id: str, links: Mapping[str, str]
) -> tuple[Mapping[str, object], ...]:
    fields = [{"type": "mrkdwn", "text": f"*{k}*\n{_slack_escape(v)}"} for k, v in facts]
    buttons: list[dict[str, object]] = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Claim"},
            "action_id": CLAIM_ACTION,
            "value": lead_id,
            "style": "primary",
        },
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Call"},
            "action_id": CALL_ACTION,
            "value": lead_id,
        },
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Contacted"},
            "action_id": CONTACTED_ACTION,
            "value": lead_id,
        },
    ]
    # The buttons post back to /webhooks/slack/actions; the signed lead page, when the alert
    # has one, is a plain link in the headline (a url button would post a click as well).
    title = f"*{_slack_escape(headline)}*"
    if "open" in links:
        title += f"  <{links['open']}|Open the lead page>"
    return (
        {"type": "section", "text": {"type": "mrkdwn", "text": title}},
        {"type": "section", "fields": fields[:10]},
        {"type": "actions", "block_id": f"lead:{lead_id}", "elements": buttons},
    )


def marked(original: AlertContent, note: str) -> AlertContent:
    """The alert as updated after a claim or a response: the note replaces the buttons."""
    blocks = [b for b in original.blocks if b.get("type") != "actions"]
    note_block = {"type": "mrkdwn", "text": _slack_escape(note)}
    blocks.append({"type": "context", "elements": [note_block]})
    return AlertContent(
        subject=original.subject,
        text=f"{original.text} ({note})",
        html=original.html,
        blocks=tuple(blocks),
        links=original.links,
    )


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
