"""Manager breach digests: what one digest says for one period (from the lead facts, with the
period before for comparison), and the scheduled run that sends every digest whose time has
come, once per digest and period.

Once: a run takes a period with one conditional write (DigestLog.take) before sending, so a
schedule event delivered twice, or two runs at once, send it once. Each address is noted as it
is sent; a run that fails for some addresses leaves the period "failed" and the next run sends
to the others only. A run that dies mid-send is taken over when its lease runs out; the one
address it was sending to when it died may get the digest twice. For a digest that is the
better failure: a manager missing a day's breaches is worse than one duplicate email.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.digest_periods import Period, due_periods, parse_period
from chalicelib.domain.digest_tables import DigestTables, digest_tables
from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.facts import LeadFact
from chalicelib.domain.metrics import Row, compute, median
from chalicelib.domain.team import DigestConfig, TeamConfig
from chalicelib.logs import get_logger
from chalicelib.ports import AlertLog, AlertRecord, Clock, Delivery, DigestLog, LeadStore, TeamStore
from chalicelib.services.worker import Worker

log = get_logger(__name__)

MAX_ATTEMPTS = 3  # runs that may take one period; after that it stays "failed" in the log
LEASE = timedelta(minutes=15)  # longer than the digests Lambda lives
BUDGET = timedelta(seconds=40)  # no new period is started after this (of a 60 s Lambda)
# Alerts that did not reach anyone, listed for the period: read newest first, up to this many.
FAILED_STATUSES = ("failed", "undelivered")
FAILED_READ = 200
NAMED_LEADS = 25  # breaches and unassigned leads whose names are looked up (one read each)
# The preview's digest when the team file names none: the whole team.
TEAM_DIGEST = DigestConfig(name="team", daily_at=8 * 60)


@dataclass(frozen=True)
class HourLine:
    """The leads that arrived in one hour of the (local) day, over the period."""

    hour: int  # 0..23, the team's wall clock
    leads: int
    breaches: int
    median_s: float | None  # speed-to-lead, wall time


@dataclass(frozen=True)
class Report:
    """Everything one digest shows for one period."""

    team_name: str
    digest: DigestConfig
    period: Period
    timezone: str
    as_of: datetime  # SLAs are judged at this instant
    current: Row
    previous: Row  # the period before, for comparisons
    tables: DigestTables
    unassigned: tuple[LeadFact, ...]  # oldest first
    previous_unassigned: int
    failed_alerts: tuple[AlertRecord, ...]  # newest first
    by_hour: tuple[HourLine, ...]  # hours with leads, in order
    rep_names: Mapping[str, str]  # rep id -> name
    lead_names: Mapping[str, str]  # lead id -> name, phone or email, for the leads listed


@dataclass(frozen=True)
class Outcome:
    """What a run did with one digest and period."""

    digest: str
    period: str
    status: str  # sent | failed | skipped (another run has it)
    sent_to: tuple[str, ...] = ()
    error: str | None = None


def build(
    team: TeamConfig,
    digest: DigestConfig,
    period: Period,
    *,
    store: LeadStore,
    alerts: AlertLog,
    now: datetime,
) -> Report:
    """The digest of `period`, SLAs judged at `now`: one facts read per day of this period and
    of the one before, one read per lead named, and one read of failed alerts."""
    facts = _facts(store, period, digest)
    before = _facts(store, period.previous(), digest)
    tables = digest_tables(facts, now=now)
    unassigned = tuple(sorted((f for f in facts if f.owner is None), key=lambda f: f.created_at))
    named = [b.lead_id for b in tables.breaches[:NAMED_LEADS]]
    named += [f.lead_id for f in unassigned[: NAMED_LEADS - len(named)]]
    return Report(
        team_name=team.name,
        digest=digest,
        period=period,
        timezone=team.timezone,
        as_of=now,
        current=compute(facts, group_by=None, now=now).total,
        previous=compute(before, group_by=None, now=now).total,
        tables=tables,
        unassigned=unassigned,
        previous_unassigned=sum(f.owner is None for f in before),
        failed_alerts=_failed_alerts(alerts, store, period, team.timezone, digest.queues),
        by_hour=by_hour(facts, team.timezone, now),
        rep_names={r.id: r.name for r in team.reps},
        lead_names=_lead_names(store, named),
    )


def by_hour(facts: Iterable[LeadFact], timezone: str, now: datetime) -> tuple[HourLine, ...]:
    """Leads, breaches and median speed-to-lead by the hour they arrived, on the wall clock."""
    zone = ZoneInfo(timezone)
    hours: dict[int, list[LeadFact]] = {}
    for fact in facts:
        hours.setdefault(fact.created_at.astimezone(zone).hour, []).append(fact)
    return tuple(
        HourLine(
            hour=hour,
            leads=len(group),
            breaches=sum(f.breached(now) for f in group if f.due_at is not None),
            median_s=median([f.speed_wall_s for f in group if f.speed_wall_s is not None]),
        )
        for hour, group in sorted(hours.items())
    )


def recipients(team: TeamConfig, digest: DigestConfig) -> list[tuple[str, str]]:
    """(channel, address) for each place the digest goes: emails, then the Slack channel. A rep
    who has lost their email since the file was checked is left out."""
    found: list[tuple[str, str]] = []
    for entry in digest.to:
        rep = team.rep(entry)
        address = rep.email if rep is not None else entry if "@" in entry else None
        if address and ("email", address) not in found:
            found.append(("email", address))
    if digest.slack_channel:
        found.append(("slack", digest.slack_channel))
    return found


def send_due(worker: Worker, digests: DigestLog, *, budget: timedelta = BUDGET) -> list[Outcome]:
    """Send every digest period whose time has come and that has not gone out (the last few
    days', oldest first, so a missed run catches up). Returns what was done."""
    started = worker.clock.now()
    team = worker.team.load()
    outcomes: list[Outcome] = []
    for digest in team.digests:
        now = worker.clock.now()
        since = digests.first_seen(digest.name, now)
        for period in due_periods(digest, team.timezone, now, since=since):
            if worker.clock.now() - started > budget:
                log.warning("digest run out of time; the next run goes on")
                return outcomes
            if not _open(digests, digest.name, period.key, worker.clock.now()):
                continue
            outcomes.append(send_period(team, digest, period, worker, digests))
    return outcomes


def _open(digests: DigestLog, name: str, period: str, now: datetime) -> bool:
    """Whether the period may still need sending: a read, cheaper than a refused write."""
    run = digests.get(name, period)
    if run is None:
        return True
    if run.attempts >= MAX_ATTEMPTS or run.status == "sent":
        return False
    return run.status == "failed" or run.lease_until < now


def send_period(
    team: TeamConfig, digest: DigestConfig, period: Period, worker: Worker, digests: DigestLog
) -> Outcome:
    """Take the period, build the digest and send it to each address not already sent to."""
    # Imported here: rendering and the retrying send are the worker's, not the webhooks'.
    from chalicelib.services import digest_render
    from chalicelib.services.delivery import send_with_retries

    now = worker.clock.now()
    run = digests.take(
        digest.name, period.key, now=now, lease_until=now + LEASE, max_attempts=MAX_ATTEMPTS
    )
    if run is None:
        return Outcome(digest.name, period.key, "skipped")
    try:
        report = build(team, digest, period, store=worker.store, alerts=worker.alerts, now=now)
        contents = {"email": digest_render.email(report), "slack": digest_render.slack(report)}
    except Exception as exc:
        log.exception("digest %s %s could not be built", digest.name, period.key)
        why = f"could not build the digest: {type(exc).__name__}"
        digests.finish(digest.name, period.key, status="failed", at=now, error=why)
        return Outcome(digest.name, period.key, "failed", error=why)
    senders = worker.senders(team)
    sent_to: list[str] = []
    # The file is checked when loaded, but a rep may have lost their email since.
    places = recipients(team, digest)
    errors: list[str] = [] if places else ["no address to send to"]
    for channel, address in places:
        tag = f"{channel}:{address}"
        if tag in run.done:
            continue
        delivery = Delivery(channel, address, contents[channel])
        sent, error, attempts, _ = send_with_retries(senders.get(channel), delivery, worker)
        if sent is not None:
            digests.delivered(digest.name, period.key, tag)
            sent_to.append(tag)
        else:
            reason = f"{error.code or 'error'}: {error.message}" if error else "not sent"
            errors.append(f"{channel} {_masked(address)}: {reason}")
        log.info(
            "digest %s",
            "sent" if sent else "failed",
            extra={
                "fields": {
                    "digest": digest.name,
                    "period": period.key,
                    "channel": channel,
                    "attempts": attempts,
                }
            },
        )
    status = "failed" if errors else "sent"
    error_text = "; ".join(errors)[:1000] or None
    digests.finish(digest.name, period.key, status=status, at=worker.clock.now(), error=error_text)
    return Outcome(digest.name, period.key, status, tuple(sent_to), error_text)


def preview(
    name: str | None,
    period_text: str,
    *,
    team: TeamStore,
    store: LeadStore,
    alerts: AlertLog,
    clock: Clock,
) -> Report:
    """The digest called `name` (the team's first, or the whole team's when the file names
    none) for a period such as "daily" or "weekly:2026-11-16", as it would go out now.
    NotFoundError for an unknown name; InvalidPayloadError for a bad period."""
    config = team.load()
    if name:
        digest = config.digest(name)
        if digest is None:
            raise NotFoundError(f"no digest named {name!r}", field="team")
    else:
        digest = config.digests[0] if config.digests else TEAM_DIGEST
    now = clock.now()
    period = parse_period(period_text, digest, config.timezone, now)
    return build(config, digest, period, store=store, alerts=alerts, now=now)


def _facts(store: LeadStore, period: Period, digest: DigestConfig) -> list[LeadFact]:
    facts = [fact for day in period.days() for fact in store.facts(day)]
    if digest.queues:
        facts = [f for f in facts if f.queue in digest.queues]
    return facts


def _failed_alerts(
    alerts: AlertLog, store: LeadStore, period: Period, timezone: str, queues: tuple[str, ...]
) -> tuple[AlertRecord, ...]:
    """Alerts that reached nobody, logged during the period (newest first); for a digest of
    some queues, those about their leads (one lead read per lead concerned)."""
    start, end = period.bounds(timezone)
    found = [
        record
        for status in FAILED_STATUSES
        for record in alerts.by_status(status, limit=FAILED_READ)
        if start <= record.created_at < end
    ]
    if queues:
        lead_queue: dict[str, str | None] = {}
        for record in found:
            if record.lead_id not in lead_queue:
                lead = store.get_lead(record.lead_id)
                lead_queue[record.lead_id] = lead.queue if lead else None
        found = [r for r in found if lead_queue[r.lead_id] in queues]
    found.sort(key=lambda r: (r.created_at, r.lead_id, r.key), reverse=True)
    return tuple(found)


def _lead_names(store: LeadStore, lead_ids: Iterable[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for lead_id in dict.fromkeys(lead_ids):
        lead = store.get_lead(lead_id)
        if lead is not None:
            names[lead_id] = lead.name or lead.phone or lead.email or lead_id
    return names


def _masked(address: str) -> str:
    # Errors are stored and logged; an address is personal data.
    if "@" not in address:
        return address
    user, _, domain = address.partition("@")
    return f"{user[:1]}***@{domain}"
