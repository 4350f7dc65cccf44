"""A digest in each form it goes out in: email (HTML with inline styles only, and a plain-text
part) and Slack Block Kit. Pure: a Report in, text out.

The HTML is built for mail clients, not browsers: nested tables for layout, every style inline,
no stylesheet, script or image, and bars drawn as table cells with a width, which Gmail, Apple
Mail and Outlook all show. It is one column, at most 600 px wide, so it reads on a phone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from chalicelib.domain.digest_tables import BreachLine, RepLine, SourceLine
from chalicelib.domain.metrics import UNASSIGNED, Row
from chalicelib.ports import AlertContent, AlertRecord
from chalicelib.services.alert_text import duration
from chalicelib.services.digests import Report

# How many lines each list shows; the rest are counted ("and 4 more").
EMAIL_ROWS = 25
SLACK_ROWS = 10
# Slack's limits: 50 blocks a message, 3000 characters in a section's text, 10 fields of at
# most 2000 characters, 150 in a header.
SLACK_BLOCKS = 50
SLACK_TEXT = 3000
SLACK_HEADER = 150

UP, DOWN = "\u25b2", "\u25bc"  # ▲ ▼
GOOD, BAD, FLAT = "#188038", "#b3261e", "#5f6368"
INK, MUTED, RULE, BAR, PAPER = "#202124", "#5f6368", "#e8eaed", "#1a73e8", "#f4f5f7"
FONT = "Arial,Helvetica,sans-serif"


# --- what every form shares ---------------------------------------------------------------


def title(report: Report) -> str:
    """ "Daily digest: Acme Roofing", with the digest's name unless it is "team"."""
    kind = report.period.kind.capitalize()
    name = report.digest.name
    suffix = "" if name == "team" else f" ({name})"
    return f"{kind} digest: {report.team_name}{suffix}"


def period_label(report: Report) -> str:
    """ "Sat 21 Nov 2026", or "Mon 16 Nov to Sun 22 Nov 2026" (with an en dash) for a week."""
    start, end = report.period.start, report.period.end
    if start == end:
        return start.strftime("%a %d %b %Y")
    first = start.strftime("%a %d %b" if start.year == end.year else "%a %d %b %Y")
    return f"{first} \u2013 {end.strftime('%a %d %b %Y')}"


def previous_label(report: Report) -> str:
    """The period compared with, shortly: "Fri 20 Nov" or "the week before"."""
    if report.period.kind == "daily":
        return report.period.previous().start.strftime("%a %d %b")
    return "the 7 days before"


def as_of_label(report: Report) -> str:
    """When the SLAs were judged, on the team's wall clock: "Sun 22 Nov 08:00 EST"."""
    local = report.as_of.astimezone(ZoneInfo(report.timezone))
    return local.strftime("%a %d %b %H:%M ") + (local.tzname() or report.timezone)


def kpis(report: Report) -> list[tuple[str, str, str, str]]:
    """(label, value, change, tone) for the headline numbers; tone is good, bad or flat."""
    now, before = report.current, report.previous
    return [
        ("Leads in", str(now.leads), *_count_change(now.leads, before.leads, None)),
        ("Within SLA", _pct(now.within_sla_pct), *_pct_change(now, before)),
        ("Median speed", _speed(now, "median"), *_speed_change(now, before, "median")),
        ("p90 speed", _speed(now, "p90"), *_speed_change(now, before, "p90")),
        ("Breaches", str(now.breaches), *_count_change(now.breaches, before.breaches, False)),
        (
            "Unassigned",
            str(len(report.unassigned)),
            *_count_change(len(report.unassigned), report.previous_unassigned, False),
        ),
    ]


def subject(report: Report) -> str:
    """The email subject: what, when, and the two numbers a manager looks for first."""
    now = report.current
    counts = f"{_plural(now.leads, 'lead')}, {_plural(now.breaches, 'breach', 'breaches')}"
    sla = _pct(now.within_sla_pct)
    summary = counts + (f", {sla} within SLA" if sla != "-" else "")
    return f"[leadclock] {title(report)}, {period_label(report)}: {summary}"


def rep_name(report: Report, rep: str | None) -> str:
    """A rep's name, or "Unassigned"."""
    if rep is None or rep == UNASSIGNED:
        return "Unassigned"
    return report.rep_names.get(rep, rep)


def lead_name(report: Report, lead_id: str) -> str:
    """The lead's name (or phone or email), else its id."""
    return report.lead_names.get(lead_id, lead_id)


# --- email ----------------------------------------------------------------------------------


def email(report: Report) -> AlertContent:
    """The email: HTML and its plain-text part, with the subject."""
    return AlertContent(subject=subject(report), text=text(report), html=html(report))


def html(report: Report) -> str:
    """The email's HTML document, inline styles only."""
    sections = [
        _header(report),
        _kpi_grid(report),
        _breaches_html(report),
        _reps_html(report),
        _hours_html(report),
        _sources_html(report),
        _unassigned_html(report),
        _failed_html(report),
        _footer(report),
    ]
    body = "".join(s for s in sections if s)
    preheader = escape(_preheader(report))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light">'
        f"<title>{escape(subject(report))}</title></head>"
        f'<body style="margin:0;padding:0;background:{PAPER}">'
        # The inbox's preview line: what the email says before it is opened.
        f'<div style="display:none;max-height:0;overflow:hidden;opacity:0">{preheader}</div>'
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="background:{PAPER}"><tr><td align="center" style="padding:12px 8px">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="max-width:600px;background:#ffffff;border-radius:8px;font-family:{FONT};'
        f'font-size:14px;line-height:1.4;color:{INK}">'
        f"{body}</table></td></tr></table></body></html>"
    )


def _preheader(report: Report) -> str:
    now = report.current
    parts = [_plural(now.leads, "lead"), _plural(now.breaches, "breach", "breaches")]
    if now.within_sla_pct is not None:
        parts.append(f"{_pct(now.within_sla_pct)} within SLA")
    if now.speed_wall_s is not None:
        parts.append(f"median {duration(now.speed_wall_s.median)}")
    return " \u00b7 ".join(parts)


def _row(content: str, padding: str = "8px 16px") -> str:
    return f'<tr><td style="padding:{padding}">{content}</td></tr>'


def _header(report: Report) -> str:
    scope = ""
    if report.digest.queues:
        scope = f" \u00b7 queues: {escape(', '.join(report.digest.queues))}"
    return _row(
        f'<div style="font-size:12px;color:{MUTED};text-transform:uppercase;'
        f'letter-spacing:.04em">{escape(title(report))}</div>'
        f'<h1 style="margin:4px 0 2px;font-size:20px;line-height:1.3;color:{INK}">'
        f"{escape(period_label(report))}</h1>"
        f'<div style="font-size:12px;color:{MUTED}">Compared with '
        f"{escape(previous_label(report))}{scope}</div>",
        "16px 16px 8px",
    )


def _kpi_grid(report: Report) -> str:
    cells = []
    for label, value, change, tone in kpis(report):
        change_html = (
            f'<div style="font-size:12px;color:{_tone(tone)}">{escape(change)}</div>'
            if change
            else f'<div style="font-size:12px;color:{MUTED}">&nbsp;</div>'
        )
        cells.append(
            f'<td width="33%" valign="top" style="padding:8px;background:{PAPER};'
            f'border:4px solid #ffffff">'
            f'<div style="font-size:12px;color:{MUTED}">{escape(label)}</div>'
            f'<div style="font-size:20px;font-weight:bold;color:{INK}">{escape(value)}</div>'
            f"{change_html}</td>"
        )
    rows = "".join(f"<tr>{''.join(cells[i : i + 3])}</tr>" for i in range(0, len(cells), 3))
    grid = (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        f"{rows}</table>"
    )
    return _row(grid, "4px 12px")


def _section(heading: str, content: str) -> str:
    return _row(
        f'<h2 style="margin:8px 0 4px;font-size:16px;color:{INK}">{escape(heading)}</h2>{content}',
        "8px 16px",
    )


def _table(rows: Iterable[str], head: str = "") -> str:
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="border-collapse:collapse;font-size:14px">{head}{"".join(rows)}</table>'
    )


def _more(shown: int, total: int) -> str:
    if total <= shown:
        return ""
    style = f"font-size:12px;color:{MUTED};padding-top:4px"
    return f'<div style="{style}">and {total - shown} more</div>'


def _cell(text: str, *, align: str = "left", style: str = "") -> str:
    return (
        f'<td align="{align}" valign="top" style="padding:6px 4px;border-top:1px solid {RULE};'
        f'{style}">{text}</td>'
    )


def _head(*labels: tuple[str, str]) -> str:
    cells = "".join(
        f'<th align="{align}" style="padding:4px;font-size:12px;font-weight:normal;'
        f'color:{MUTED}">{escape(label)}</th>'
        for label, align in labels
    )
    return f"<tr>{cells}</tr>"


def _breaches_html(report: Report) -> str:
    breaches = report.tables.breaches
    if not breaches:
        return _section("Breaches", f'<div style="color:{GOOD}">No SLA breaches.</div>')
    rows = []
    for line in breaches[:EMAIL_ROWS]:
        state = (
            f'<span style="color:{GOOD}">contacted since</span>'
            if line.contacted
            else f'<span style="color:{BAD};font-weight:bold">not contacted</span>'
        )
        who = (
            f"<b>{escape(lead_name(report, line.lead_id))}</b><br>"
            f'<span style="font-size:12px;color:{MUTED}">{escape(line.source)} \u00b7 '
            f"{escape(rep_name(report, line.owner))}</span>"
        )
        late = (
            f'<b style="color:{BAD}">{escape(duration(line.late_s))} late</b><br>'
            f'<span style="font-size:12px">{state}</span>'
        )
        rows.append(f"<tr>{_cell(who)}{_cell(late, align='right')}</tr>")
    heading = f"Breaches ({len(breaches)}), most late first"
    return _section(heading, _table(rows) + _more(EMAIL_ROWS, len(breaches)))


def _bar(fraction: float, colour: str = BAR) -> str:
    """A horizontal bar as a table: a coloured cell `fraction` of the width wide."""
    percent = max(2, min(100, round(fraction * 100)))
    rest = (
        f'<td width="{100 - percent}%" style="font-size:0;line-height:0">&nbsp;</td>'
        if percent < 100
        else ""
    )
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        f'<tr><td width="{percent}%" height="10" bgcolor="{colour}" style="background:{colour};'
        f'height:10px;font-size:0;line-height:0;border-radius:2px">&nbsp;</td>{rest}</tr></table>'
    )


def _reps_html(report: Report) -> str:
    reps = report.tables.reps
    if not reps:
        return ""
    longest = max((r.median_response_s or 0 for r in reps), default=0) or 1
    head = _head(
        ("Rep", "left"),
        ("Leads", "right"),
        ("Median response", "left"),
        ("Breaches", "right"),
        ("Claims", "right"),
    )
    rows = []
    for line in reps[:EMAIL_ROWS]:
        speed = line.median_response_s
        chart = (
            f"{_bar(speed / longest)}"
            f'<div style="font-size:12px;color:{MUTED}">{escape(duration(speed))}</div>'
            if speed is not None
            else f'<span style="color:{MUTED}">-</span>'
        )
        breach_style = f"color:{BAD};font-weight:bold" if line.breaches else ""
        rows.append(
            "<tr>"
            + _cell(escape(rep_name(report, line.rep)))
            + _cell(str(line.leads), align="right")
            + _cell(chart, style="width:40%")
            + _cell(str(line.breaches), align="right", style=breach_style)
            + _cell(str(line.claims), align="right")
            + "</tr>"
        )
    return _section("By rep", _table(rows, head) + _more(EMAIL_ROWS, len(reps)))


def _hours_html(report: Report) -> str:
    hours = [h for h in report.by_hour if h.median_s is not None]
    if not hours:
        return ""
    longest = max(h.median_s or 0 for h in hours) or 1
    rows = []
    for h in hours:
        speed = h.median_s or 0
        colour = BAD if h.breaches else BAR
        note = f"{duration(speed)} \u00b7 {_plural(h.leads, 'lead')}"
        if h.breaches:
            note += f" \u00b7 {_plural(h.breaches, 'breach', 'breaches')}"
        rows.append(
            "<tr>"
            + _cell(f"{h.hour:02d}:00", style=f"width:48px;color:{MUTED};font-size:12px")
            + _cell(
                f"{_bar(speed / longest, colour)}"
                f'<div style="font-size:12px;color:{MUTED}">{escape(note)}</div>'
            )
            + "</tr>"
        )
    return _section("Median speed-to-lead by hour of arrival", _table(rows))


def _sources_html(report: Report) -> str:
    sources = report.tables.sources
    if not sources:
        return ""
    head = _head(
        ("Source", "left"),
        ("Leads", "right"),
        ("In SLA", "right"),
        ("SQL", "right"),
        ("Won", "right"),
    )
    rows = [
        "<tr>"
        + _cell(escape(line.source))
        + _cell(str(line.leads), align="right")
        + _cell(_pct(line.within_sla_pct), align="right")
        + _cell(_pct(line.to_sql_pct), align="right")
        + _cell(_pct(line.to_won_pct), align="right")
        + "</tr>"
        for line in sources[:EMAIL_ROWS]
    ]
    note = (
        f'<div style="font-size:12px;color:{MUTED};padding-top:4px">SQL and Won: the share of '
        "the source's leads that got that far.</div>"
    )
    return _section("By source", _table(rows, head) + _more(EMAIL_ROWS, len(sources)) + note)


def _unassigned_html(report: Report) -> str:
    leads = report.unassigned
    if not leads:
        return ""
    zone = ZoneInfo(report.timezone)
    rows = [
        "<tr>"
        + _cell(f"<b>{escape(lead_name(report, f.lead_id))}</b>")
        + _cell(escape(f.source))
        + _cell(escape(_local(f.created_at, zone)), align="right", style=f"color:{MUTED}")
        + "</tr>"
        for f in leads[:EMAIL_ROWS]
    ]
    heading = f"Unassigned leads ({len(leads)})"
    return _section(heading, _table(rows) + _more(EMAIL_ROWS, len(leads)))


def _failed_html(report: Report) -> str:
    failed = report.failed_alerts
    if not failed:
        return ""
    zone = ZoneInfo(report.timezone)
    rows = [
        "<tr>"
        + _cell(
            f"<b>{escape(rep_name(report, r.recipient) if r.recipient != 'channel' else 'channel')}"
            f"</b> \u00b7 {escape(r.channel)}<br>"
            f'<span style="font-size:12px;color:{MUTED}">{escape(r.error or r.status)}</span>'
        )
        + _cell(escape(_local(r.created_at, zone)), align="right", style=f"color:{MUTED}")
        + "</tr>"
        for r in failed[:EMAIL_ROWS]
    ]
    heading = f"Alerts that reached nobody ({len(failed)})"
    return _section(heading, _table(rows) + _more(EMAIL_ROWS, len(failed)))


def _footer(report: Report) -> str:
    return _row(
        f'<div style="font-size:12px;color:{MUTED};border-top:1px solid {RULE};'
        f'padding-top:8px">SLAs judged as of {escape(as_of_label(report))}. '
        "Speeds are wall-clock time from the lead's arrival to the first response. "
        "Sent by leadclock.</div>",
        "8px 16px 16px",
    )


# --- plain text ------------------------------------------------------------------------------


def text(report: Report) -> str:
    """The email's plain-text part: the same content, for clients that show no HTML."""
    lines = [
        title(report),
        f"{period_label(report)}, compared with {previous_label(report)}",
        "",
    ]
    for label, value, change, _ in kpis(report):
        lines.append(f"{label:<13} {value:<8} {change}".rstrip())
    breaches = report.tables.breaches
    lines += ["", f"Breaches ({len(breaches)}), most late first"]
    lines += [f"  {_breach_text(report, b)}" for b in breaches[:EMAIL_ROWS]] or ["  none"]
    lines += _more_text(EMAIL_ROWS, len(breaches))
    if report.tables.reps:
        lines += ["", "By rep"]
        lines += [f"  {_rep_text(report, r)}" for r in report.tables.reps[:EMAIL_ROWS]]
    if report.tables.sources:
        lines += ["", "By source (in SLA, to SQL, won)"]
        lines += [f"  {_source_text(s)}" for s in report.tables.sources[:EMAIL_ROWS]]
    zone = ZoneInfo(report.timezone)
    if report.unassigned:
        lines += ["", f"Unassigned leads ({len(report.unassigned)})"]
        lines += [
            f"  {lead_name(report, f.lead_id)} \u00b7 {f.source} \u00b7 "
            f"{_local(f.created_at, zone)}"
            for f in report.unassigned[:EMAIL_ROWS]
        ]
        lines += _more_text(EMAIL_ROWS, len(report.unassigned))
    if report.failed_alerts:
        lines += ["", f"Alerts that reached nobody ({len(report.failed_alerts)})"]
        lines += [f"  {_failed_text(report, r)}" for r in report.failed_alerts[:EMAIL_ROWS]]
        lines += _more_text(EMAIL_ROWS, len(report.failed_alerts))
    lines += ["", f"SLAs judged as of {as_of_label(report)}. Sent by leadclock."]
    return "\n".join(lines) + "\n"


def _breach_text(report: Report, line: BreachLine) -> str:
    state = "contacted since" if line.contacted else "NOT contacted"
    return (
        f"{lead_name(report, line.lead_id)} \u00b7 {line.source} \u00b7 "
        f"{rep_name(report, line.owner)} \u00b7 {duration(line.late_s)} late \u00b7 {state}"
    )


def _rep_text(report: Report, line: RepLine) -> str:
    speed = duration(line.median_response_s) if line.median_response_s is not None else "-"
    return (
        f"{rep_name(report, line.rep)}: {_plural(line.leads, 'lead')}, median {speed}, "
        f"{_plural(line.breaches, 'breach', 'breaches')}, {_plural(line.claims, 'claim')}"
    )


def _source_text(line: SourceLine) -> str:
    return (
        f"{line.source}: {_plural(line.leads, 'lead')}, {_pct(line.within_sla_pct)} in SLA, "
        f"{_pct(line.to_sql_pct)} to SQL, {_pct(line.to_won_pct)} won"
    )


def _failed_text(report: Report, record: AlertRecord) -> str:
    who = "channel" if record.recipient == "channel" else rep_name(report, record.recipient)
    when = _local(record.created_at, ZoneInfo(report.timezone))
    return f"{who} \u00b7 {record.channel} \u00b7 {when} \u00b7 {record.error or record.status}"


def _more_text(shown: int, total: int) -> list[str]:
    return [f"  and {total - shown} more"] if total > shown else []


# --- Slack -----------------------------------------------------------------------------------


def slack(report: Report) -> AlertContent:
    """The Slack message: Block Kit within Slack's limits, and a one-line fallback text."""
    return AlertContent(
        subject=subject(report),
        text=f"{title(report)}, {period_label(report)}: {_preheader(report)}",
        html="",
        blocks=tuple(blocks(report)),
    )


def blocks(report: Report) -> list[dict[str, object]]:
    """Header, the headline numbers as fields, then one section per list."""
    header = _clip_line(f"{title(report)} \u00b7 {period_label(report)}", SLACK_HEADER)
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{_mrkdwn(value)}  {_mrkdwn(change)}".rstrip()}
        for label, value, change, _ in kpis(report)
    ]
    out: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": _mrkdwn(f"Compared with {previous_label(report)}")}
            ],
        },
        {"type": "section", "fields": fields[:10]},
        {"type": "divider"},
    ]
    breaches = report.tables.breaches
    out.append(
        _list_section(
            f"Breaches ({len(breaches)}), most late first",
            [_breach_slack(report, b) for b in breaches],
            empty="No SLA breaches.",
        )
    )
    if report.tables.reps:
        out.append(
            _list_section("By rep", [_mrkdwn(_rep_text(report, r)) for r in report.tables.reps])
        )
    if report.tables.sources:
        out.append(
            _list_section("By source", [_mrkdwn(_source_text(s)) for s in report.tables.sources])
        )
    zone = ZoneInfo(report.timezone)
    if report.unassigned:
        out.append(
            _list_section(
                f"Unassigned leads ({len(report.unassigned)})",
                [
                    _mrkdwn(f"{lead_name(report, f.lead_id)} \u00b7 {f.source}")
                    + f" \u00b7 {_local(f.created_at, zone)}"
                    for f in report.unassigned
                ],
            )
        )
    if report.failed_alerts:
        out.append(
            _list_section(
                f"Alerts that reached nobody ({len(report.failed_alerts)})",
                [_mrkdwn(_failed_text(report, r)) for r in report.failed_alerts],
            )
        )
    out.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": _mrkdwn(f"SLAs judged as of {as_of_label(report)}")}
            ],
        }
    )
    return out[:SLACK_BLOCKS]


def _breach_slack(report: Report, line: BreachLine) -> str:
    state = "contacted since" if line.contacted else "*not contacted*"
    who = _mrkdwn(lead_name(report, line.lead_id))
    rest = _mrkdwn(f"{line.source} \u00b7 {rep_name(report, line.owner)}")
    return f"\u2022 *{who}* \u00b7 {rest} \u00b7 {duration(line.late_s)} late \u00b7 {state}"


def _list_section(heading: str, lines: Sequence[str], empty: str = "none") -> dict[str, object]:
    """A section of at most SLACK_ROWS lines, cut to Slack's text limit, the rest counted."""
    head = f"*{_mrkdwn(heading)}*"
    shown = list(lines[:SLACK_ROWS]) or [_mrkdwn(empty)]
    while True:
        rest = len(lines) - len(shown) if lines else 0
        tail = [f"_and {rest} more_"] if rest > 0 else []
        body = "\n".join([head, *shown, *tail])
        if len(body) <= SLACK_TEXT or len(shown) == 1:
            break
        shown.pop()
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip_line(body, SLACK_TEXT)}}


def _mrkdwn(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip_line(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# --- numbers ---------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _speed(row: Row, which: str) -> str:
    spread = row.speed_wall_s
    if spread is None:
        return "-"
    return duration(spread.median if which == "median" else spread.p90)


def _count_change(now: int, before: int, up_is_good: bool | None) -> tuple[str, str]:
    """ "▲ 5 (from 37)"; tone by whether more is better (None: neither)."""
    if now == before:
        return f"= {before}", "flat"
    arrow = UP if now > before else DOWN
    tone = "flat" if up_is_good is None else "good" if (now > before) == up_is_good else "bad"
    return f"{arrow} {abs(now - before)} (from {before})", tone


def _pct_change(now: Row, before: Row) -> tuple[str, str]:
    a, b = now.within_sla_pct, before.within_sla_pct
    if a is None or b is None:
        return ("" if b is None else f"was {_pct(b)}"), "flat"
    points = round(a) - round(b)
    if points == 0:
        return f"= {_pct(b)}", "flat"
    arrow = UP if points > 0 else DOWN
    return f"{arrow} {abs(points)} pts (from {_pct(b)})", "good" if points > 0 else "bad"


def _speed_change(now: Row, before: Row, which: str) -> tuple[str, str]:
    """Faster is better, so ▼ is good here."""
    if now.speed_wall_s is None or before.speed_wall_s is None:
        return "", "flat"
    a = now.speed_wall_s.median if which == "median" else now.speed_wall_s.p90
    b = before.speed_wall_s.median if which == "median" else before.speed_wall_s.p90
    if int(a) == int(b):
        return f"= {duration(b)}", "flat"
    arrow = UP if a > b else DOWN
    return f"{arrow} {duration(abs(a - b))} (from {duration(b)})", "bad" if a > b else "good"


def _tone(tone: str) -> str:
    return {"good": GOOD, "bad": BAD}.get(tone, FLAT)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %H:%M")
