"""The SLA board as HTML: large type for a wall screen, readable on a phone, no JavaScript.

The page reloads itself with a meta refresh, so a browser in kiosk mode needs nothing else; each
countdown is computed when the page is rendered and is at most REFRESH_S seconds old."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from chalicelib.services.alert_text import duration
from chalicelib.services.board import Board, BreachRow, RepRow, WaitingRow

REFRESH_S = 30

# Sizes in em of the body's size, so one rule makes the whole board larger on a wall screen.
_STYLE = (
    "body{font-family:-apple-system,Segoe UI,Roboto,Arial,sans-serif;margin:0;padding:16px;"
    "color:#222;background:#f6f7f9;font-size:18px}h1{font-size:1.5em;margin:0}"
    "h2{font-size:1.15em;margin:1em 0 .4em}.muted{color:#666}"
    ".stats{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}"
    ".stat{background:#fff;border-radius:8px;padding:.4em .8em;border:1px solid #ddd}"
    ".stat b{font-size:1.8em;display:block}.stat b.alarm{color:#b00020}"
    "ol,ul{list-style:none;margin:0;padding:0}"
    ".lead{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;"
    "gap:4px 16px;background:#fff;border:1px solid #ddd;border-left:10px solid #0a7c2f;"
    "border-radius:8px;padding:.5em .7em;margin:8px 0}.who{font-size:1.3em;font-weight:bold}"
    ".clock{font-size:1.4em;font-weight:bold;white-space:nowrap}"
    ".ok .clock{color:#0a7c2f}.due_soon{border-left-color:#e37400;background:#fff8e1}"
    ".due_soon .clock{color:#b06000}.missed{border-left-color:#b00020;background:#fdecee}"
    ".missed .clock{color:#b00020}.no_sla{border-left-color:#999}"
    "table{border-collapse:collapse;width:100%;background:#fff}"
    "td,th{text-align:left;padding:.35em;border-bottom:1px solid #eee}td.n{text-align:right}"
    ".tag{display:inline-block;border-radius:6px;padding:.1em .4em;font-size:.9em}"
    ".active{background:#e6f4ea;color:#0a7c2f}.paused{background:#fff3cd;color:#7a5500}"
    ".out_of_office{background:#eee;color:#555}.off_hours{background:#e8eaed;color:#3c4043}"
    ".breach{background:#fff;border-left:6px solid #b00020;padding:.3em .5em;margin:6px 0}"
    "@media (min-width:1000px){body{font-size:26px;padding:24px 32px}"
    ".grid{display:grid;grid-template-columns:3fr 2fr;gap:32px}}"
)
_STATUS = {"active": "Active", "paused": "Paused", "out_of_office": "Out of office"}
_INVALID = (
    "This link is not valid",
    "It may have been cut or changed. Use the board link as it was given.",
)
REFUSED = {
    "expired": (
        "This board link has expired",
        "Ask an admin for a new wall-screen link.",
    ),
    "tampered": _INVALID,
    "malformed": _INVALID,
    "not_allowed": (
        "Not a board link",
        "This link was made for something else. Ask an admin for a wall-screen link.",
    ),
    "not_configured": (
        "The board is not set up yet",
        "Signed links are not configured on this deployment. This page tries again shortly.",
    ),
}


def page(board: Board) -> str:
    """The whole board."""
    local = board.now.astimezone(ZoneInfo(board.timezone))
    stats = (
        _stat(board.waiting_total, "waiting")
        + _stat(board.breaches_total, "breaches today", alarm=board.breaches_total > 0)
        + (_stat(board.unassigned, "unassigned") if board.unassigned else "")
    )
    waiting = "".join(_waiting(row) for row in board.waiting) or (
        '<li class="muted">No one is waiting.</li>'
    )
    if board.waiting_more:
        waiting += f'<li class="muted">and {board.waiting_more} more</li>'
    breaches = "".join(_breach(row, board.timezone) for row in board.breaches) or (
        '<li class="muted">None today.</li>'
    )
    if board.breaches_more:
        breaches += f'<li class="muted">and {board.breaches_more} more</li>'
    reps = "".join(_rep(row, board.timezone) for row in board.reps)
    body = (
        f"<header><h1>{escape(board.team_name)}: SLA board</h1>"
        f'<p class="muted" id="as-of">as of {local:%H:%M} ({escape(board.timezone)}),'
        f" refreshed every {REFRESH_S} s</p></header>"
        f'<div class="stats">{stats}</div>'
        '<div class="grid">'
        f'<section><h2>Waiting for a first response</h2><ol id="waiting">{waiting}</ol></section>'
        "<section>"
        '<h2>Team</h2><table id="reps"><tr><th>Rep</th><th>Status</th><th>Open</th></tr>'
        f"{reps}</table>"
        f'<h2>Breaches today</h2><ul id="breaches">{breaches}</ul>'
        "</section></div>"
    )
    return _document(f"SLA board: {board.team_name}", body, refresh=True)


def _stat(count: int, label: str, *, alarm: bool = False) -> str:
    css = ' class="alarm"' if alarm else ""
    return f'<div class="stat"><b{css}>{count}</b>{escape(label)}</div>'


def _waiting(row: WaitingRow) -> str:
    who = row.name or "No name given"
    parts = [row.source, row.owner_name or "unassigned", f"waiting {duration(row.waiting_s)}"]
    if row.claimed_by_name:
        parts.append(f"claimed by {row.claimed_by_name}")
    meta = " · ".join(escape(p) for p in parts)
    return (
        f'<li class="lead {row.state}" data-lead="{escape(row.lead_id, quote=True)}">'
        f'<div><div class="who">{escape(who)}</div><div class="muted">{meta}</div></div>'
        f'<div class="clock">{escape(_countdown(row))}</div></li>'
    )


def _countdown(row: WaitingRow) -> str:
    if row.due_in_s is None:
        return "no SLA"
    if row.due_in_s <= 0:
        return f"missed by {duration(-row.due_in_s)}"
    return f"due in {duration(row.due_in_s)}"


def _breach(row: BreachRow, timezone: str) -> str:
    due = f"due {_clock(row.due_at, timezone)}" if row.due_at else "no due time"
    outcome = (
        f"answered {duration(row.late_s)} late"
        if row.answered
        else f"still waiting, {duration(row.late_s)} over"
    )
    parts = [due, row.source, row.owner_name or "unassigned", outcome]
    return f'<li class="breach">{" · ".join(escape(p) for p in parts)}</li>'


def _rep(row: RepRow, timezone: str) -> str:
    label, css = _STATUS[row.status], row.status
    if row.status == "out_of_office" and row.out_of_office_until is not None:
        label += f" until {_when(row.out_of_office_until, timezone)}"
    elif row.status == "active" and row.off_hours:
        label, css = "Off hours", "off_hours"
    return (
        f'<tr data-rep="{escape(row.rep_id, quote=True)}"><td>{escape(row.name)}</td>'
        f'<td><span class="tag {css}">{escape(label)}</span></td>'
        f'<td class="n">{row.open_leads}</td></tr>'
    )


def _clock(at: datetime, timezone: str) -> str:
    return f"{at.astimezone(ZoneInfo(timezone)):%H:%M}"


def _when(at: datetime, timezone: str) -> str:
    # Weekday and date spelled out by hand: strftime's names follow the process locale.
    local = at.astimezone(ZoneInfo(timezone))
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[local.weekday()]} {local.day} {months[local.month - 1]} {local:%H:%M}"


def refused(reason: str) -> str:
    """A friendly page for a board link that cannot be used. Only the page for a deployment
    not yet set up refreshes: the other reasons will not go away by waiting."""
    title, text = REFUSED.get(reason, _INVALID)
    body = f"<h1>{escape(title)}</h1><p>{escape(text)}</p>"
    return _document(title, body, refresh=reason == "not_configured")


def _document(title: str, body: str, *, refresh: bool) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if refresh else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
