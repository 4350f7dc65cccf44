"""The lead page as HTML: mobile first, no JavaScript, one form per action."""

from __future__ import annotations

from html import escape

from chalicelib.services.alert_text import duration
from chalicelib.services.lead_page import PageView

_STYLE = (
    "body{font-family:-apple-system,Segoe UI,Roboto,Arial,sans-serif;margin:0;padding:16px;"
    "max-width:520px;color:#222}h1{font-size:20px;margin:0 0 4px}.muted{color:#666}"
    ".box{border:1px solid #ddd;border-radius:8px;padding:12px;margin:12px 0}"
    ".late{color:#b00020;font-weight:bold}.due{color:#b06000;font-weight:bold}.ok{color:#0a7c2f;font-weight:bold}"
    "button,a.button{display:block;width:100%;box-sizing:border-box;font-size:18px;padding:14px;"
    "margin:8px 0;border:0;border-radius:8px;background:#1a73e8;color:#fff;text-align:center;"
    "text-decoration:none}button.secondary{background:#5f6368}.note{background:#e6f4ea;"
    "padding:10px;border-radius:8px}"
)
_DONE = {
    "claim": "Claimed. Escalation is paused for you; the clock keeps running.",
    "contacted": "Marked contacted. The clock has stopped.",
    "already": "Already done: nothing changed.",
    "call": "Calling your phone now. Answer it and press 1 to be connected to the lead.",
    "call_again": "Your phone is already being called for this lead.",
}
_INVALID = (
    "This link is not valid",
    "It may have been cut or changed. Use the link from the alert as it came.",
)
REFUSED = {
    "expired": (
        "This link has expired",
        "Alert links last 24 hours. Open the lead from a newer alert.",
    ),
    "tampered": _INVALID,
    "malformed": _INVALID,
    "not_allowed": ("Not allowed with this link", "Open the lead from its alert to do that."),
    "unknown_rep": (
        "This link is no longer valid",
        "It was sent to someone no longer on the team.",
    ),
    "not_found": ("Lead not found", "This lead no longer exists."),
}
_BUTTONS = (
    ("call", "Call now", ""),
    ("claim", "Claim", ""),
    ("contacted", "Mark contacted", ' class="secondary"'),
)


def page(view: PageView) -> str:
    """The lead page for `view`. Its forms have no action attribute: they post back to the
    page's own URL, whatever stage prefix the API has."""
    lead, now = view.lead, view.now
    who = lead.name or lead.phone or lead.email or lead.lead_id
    touch = lead.first_touch
    rows = [
        ("From", touch.source + (f" / {touch.campaign}" if touch.campaign else "")),
        ("Waiting", duration((now - lead.created_at).total_seconds())),
        ("Phone", lead.phone or "-"),
        ("Email", lead.email or "-"),
    ]
    if view.asked:
        rows.append(("Asked", view.asked[:500]))
    if lead.claimed_by:
        mine = lead.claimed_by == view.rep.id
        rows.append(("Claimed by", "you" if mine else view.names.get(lead.claimed_by, "a rep")))
    facts = "".join(
        f'<div><span class="muted">{escape(k)}</span> <b>{escape(v)}</b></div>' for k, v in rows
    )
    done = f'<p class="note">{escape(_DONE[view.done])}</p>' if view.done else ""
    if view.notice:
        done += f'<p class="note">{escape(view.notice)}</p>'
    call = ""
    if lead.phone and lead.first_response_at is None and "call" not in view.allowed:
        # No bridge with this link: the rep's own phone dials.
        call = f'<a class="button" href="tel:{escape(lead.phone, quote=True)}">Call now</a>'
    forms = "".join(
        f'<form method="post"><input type="hidden" name="action" value="{action}">'
        f'<button type="submit"{extra}>{label}</button></form>'
        for action, label, extra in _BUTTONS
        if action in view.allowed and lead.first_response_at is None and _offered(action, view)
    )
    body = (
        f'<h1>{escape(who)}</h1>{_state(view)}{done}<div class="box">{facts}</div>'
        f'{call}{forms}<p class="muted">For {escape(view.rep.name)}</p>'
    )
    return _document(f"Lead: {who}", body)


def _offered(action: str, view: PageView) -> bool:
    """Whether the button makes sense now: no call without a number, no second claim of a
    lead this rep holds."""
    lead = view.lead
    if action == "call":
        return bool(lead.phone)
    if action == "claim":
        held = lead.paused_until is not None and lead.paused_until > view.now
        return not (lead.claimed_by == view.rep.id and held)
    return True


def _state(view: PageView) -> str:
    lead, now = view.lead, view.now
    if lead.first_response_at is not None:
        return f'<p class="ok">Contacted after {escape(duration(lead.speed_wall_s or 0))}</p>'
    if lead.sla_due_at is None:
        return ""
    if now >= lead.sla_due_at:
        late = duration((now - lead.sla_due_at).total_seconds())
        return f'<p class="late">SLA missed {escape(late)} ago</p>'
    left = duration((lead.sla_due_at - now).total_seconds())
    return f'<p class="due">SLA due in {escape(left)}</p>'


def refused(reason: str) -> str:
    """A friendly page for a link that cannot be used."""
    title, text = REFUSED.get(reason, _INVALID)
    return _document(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
