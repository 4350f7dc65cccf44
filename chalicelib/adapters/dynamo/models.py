"""The tables, read as a schema. Table names and the endpoint are bound at start-up by `bind`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.connection import Connection
from pynamodb.constants import NUMBER
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
)
from pynamodb.models import Model

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CompactJSONAttribute(JSONAttribute):
    """JSON without the spaces json.dumps puts after separators: bytes on a hot item count."""

    def serialize(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))


class MicrosAttribute(Attribute[datetime]):
    """A time as a number of microseconds since 1970 (UTC). The SLA clock's times use it: a
    number costs a byte per two digits (9 B, where an ISO string costs 32), it keeps every
    microsecond, and the index of due steps sorts it as a number."""

    attr_type = NUMBER

    def serialize(self, value: datetime) -> str:
        delta = value.astimezone(UTC) - _EPOCH
        return str((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)

    def deserialize(self, value: str) -> datetime:
        return _EPOCH + timedelta(microseconds=int(value))


class AttributionAttr(MapAttribute[str, Any]):
    """Where a touch came from; on the lead, the compact copy of Attribution.for_lead()."""

    source = UnicodeAttribute()
    channel = UnicodeAttribute()
    campaign = UnicodeAttribute(null=True)
    # PynamoDB's MapAttribute constructor is untyped; the ignores are for that alone.
    utm = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    utm_raw = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    click_ids = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    landing_page = UnicodeAttribute(null=True)
    referrer = UnicodeAttribute(null=True)
    form_id = UnicodeAttribute(null=True)
    tracking_number = UnicodeAttribute(null=True)


class LeadsByMonth(GlobalSecondaryIndex["LeadModel"]):  # type: ignore[no-untyped-call]
    """Leads newest first within a calendar month (UTC); keys only, so updates don't copy."""

    class Meta:
        index_name = "by_month"
        projection = KeysOnlyProjection()

    created_month = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class DueSteps(GlobalSecondaryIndex["LeadModel"]):  # type: ignore[no-untyped-call]
    """Sparse: only a lead with a ladder step still to fire carries `due`, so the sweeper reads
    pending steps, earliest first, and never scans. One partition holds every pending step: it
    takes ~1,000 writes/s, far above the rate leads arrive and steps fire."""

    class Meta:
        index_name = "due_steps"
        projection = IncludeProjection(["next_step"])

    due = UnicodeAttribute(hash_key=True)
    next_step_at = MicrosAttribute(range_key=True)


class LeadModel(Model):
    """One person: contact, first and last touch, status, owner and SLA clock."""

    class Meta:
        table_name = "leads"
        region = "us-east-1"
        host: str | None = None

    lead_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)  # absent while it equals created_at (a new lead)
    created_month = UnicodeAttribute()
    created_key = UnicodeAttribute()
    # PynamoDB leaves MapAttribute.__init__ untyped, hence the ignores.
    first_touch = AttributionAttr()  # type: ignore[no-untyped-call]
    # Absent while it equals first_touch: a new lead stores its attribution once.
    last_touch = AttributionAttr(null=True)  # type: ignore[no-untyped-call]
    # When the last touch happened; guards it against a late replay moving it back in time.
    last_touch_at = UnicodeAttribute(null=True)
    owner = UnicodeAttribute(null=True)  # a rep id
    queue = UnicodeAttribute(null=True)
    owner_assigned_at = UnicodeAttribute(null=True)
    assignment = CompactJSONAttribute(null=True)  # the explanation: queue, rule, eligible, …
    previous_owners = ListAttribute[str](null=True)  # rep ids, oldest first
    first_response_at = UnicodeAttribute(null=True)
    first_response_by = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="new")
    phone = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    company = UnicodeAttribute(null=True)
    sms_opt_out = BooleanAttribute(default=False)  # absent until an SMS sets or clears it
    touch_count = NumberAttribute(default=0)
    linked_lead_ids = UnicodeSetAttribute(null=True)
    # The SLA clock, set when the lead is created; its times are MicrosAttribute numbers.
    sla_policy = UnicodeAttribute(null=True)
    clock_started_at = MicrosAttribute(null=True)  # absent while it equals created_at
    sla_due_at = MicrosAttribute(null=True)
    next_step = NumberAttribute(null=True)  # the ladder step still to fire (-1: unassigned)
    next_step_at = MicrosAttribute(null=True)
    due = UnicodeAttribute(null=True)  # "due" while a step is pending: the sparse index's key
    step_attempts = NumberAttribute(null=True)  # times the pending step was begun; absent: 0
    claimed_by = UnicodeAttribute(null=True)
    claimed_at = MicrosAttribute(null=True)
    paused_until = MicrosAttribute(null=True)
    # Speed-to-lead, written once when the clock stops.
    speed_wall_s = NumberAttribute(null=True)
    speed_business_s = NumberAttribute(null=True)
    sla_met = BooleanAttribute(null=True)
    # The day whose facts item holds the lead's metrics fact (absent for leads from before).
    fact_day = UnicodeAttribute(null=True, attr_name="fd")
    first_attempt_at = MicrosAttribute(null=True)
    first_connect_at = MicrosAttribute(null=True)
    bridge_by = UnicodeAttribute(null=True)
    bridge_at = MicrosAttribute(null=True)
    # The sales funnel: all absent while the lead is at "lead", so a new lead's item does not
    # grow. furthest_stage is absent while it equals stage (stored once the lead is lost).
    stage = UnicodeAttribute(null=True)
    stage_at = MicrosAttribute(null=True)
    furthest_stage = UnicodeAttribute(null=True)
    lost_reason = UnicodeAttribute(null=True)
    won_amount = UnicodeAttribute(null=True)  # a decimal as text: exact, as it was given
    currency = UnicodeAttribute(null=True)
    won_last_source = UnicodeAttribute(null=True)
    by_month = LeadsByMonth()
    due_steps = DueSteps()


class IdentityModel(Model):
    """An identity key ("phone:+1…", "email:…", "sid:CA…") and the one lead that holds it."""

    class Meta:
        table_name = "identities"
        region = "us-east-1"
        host: str | None = None

    key = UnicodeAttribute(hash_key=True)
    lead_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


class TouchpointModel(Model):
    """One event on a lead's timeline; the range key orders by time and is unique per event."""

    class Meta:
        table_name = "touchpoints"
        region = "us-east-1"
        host: str | None = None

    lead_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # "<received_at ISO>#<event_key>"
    event_key = UnicodeAttribute()
    at = UnicodeAttribute()
    channel = UnicodeAttribute()
    kind = UnicodeAttribute()
    attribution = AttributionAttr()  # type: ignore[no-untyped-call]
    detail = JSONAttribute(null=True)


class PendingEvents(GlobalSecondaryIndex["EventModel"]):  # type: ignore[no-untyped-call]
    """Sparse: only events still waiting to land carry `pending`, so the replayer never scans."""

    class Meta:
        index_name = "pending"
        projection = AllProjection()

    pending = UnicodeAttribute(hash_key=True)
    received_at = UnicodeAttribute(range_key=True)


class EventModel(Model):
    """The inbox: each authenticated request as received, kept apart from the lead."""

    class Meta:
        table_name = "events"
        region = "us-east-1"
        host: str | None = None

    event_key = UnicodeAttribute(hash_key=True)
    received_at = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")
    pending = UnicodeAttribute(null=True)
    lead_id = UnicodeAttribute(null=True)
    capture = JSONAttribute()
    raw_body = UnicodeAttribute(null=True)
    content_type = UnicodeAttribute(null=True)
    pending_index = PendingEvents()


class TeamModel(Model):
    """The team configuration as one validated document, replaced whole by the admin command."""

    class Meta:
        table_name = "team"
        region = "us-east-1"
        host: str | None = None

    name = UnicodeAttribute(hash_key=True)
    document = JSONAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute(null=True)  # counts saves; edits are conditional on it


class RoutingModel(Model):
    """Rotation counters (`queue#<name>`) and rep load (`load#<rep>`): small, hot, atomic."""

    class Meta:
        table_name = "routing"
        region = "us-east-1"
        host: str | None = None

    key = UnicodeAttribute(hash_key=True)
    position = NumberAttribute(null=True)  # queue#: assignments taken so far
    open = NumberAttribute(null=True)  # load#: open, not yet contacted leads
    # load#: also one number per day, named "d2026-11-22" (the rep's local date): leads that day.


class AlertsNeedingAttention(GlobalSecondaryIndex["AlertModel"]):  # type: ignore[no-untyped-call]
    """Sparse: alerts someone should look at (failed, unconfirmed, held, undelivered) by status,
    newest first. Sent and delivered alerts, the bulk, carry no `attention` and cost the index
    nothing."""

    class Meta:
        index_name = "attention"
        projection = AllProjection()

    attention = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class SmsAlertsByRep(GlobalSecondaryIndex["AlertModel"]):  # type: ignore[no-untyped-call]
    """Sparse: a rep's SMS alerts, newest first, so a reply to the alerts number finds the
    leads it can mean. Slack, email and channel alerts carry no `rep_sms`."""

    class Meta:
        index_name = "rep_sms"
        projection = AllProjection()

    rep_sms = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class AlertModel(Model):
    """One alert to one recipient on one channel, written when its step finishes."""

    class Meta:
        table_name = "alerts"
        region = "us-east-1"
        host: str | None = None

    lead_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)  # "<step>:<recipient>:<channel>"
    step = NumberAttribute()
    step_name = UnicodeAttribute()
    recipient = UnicodeAttribute()  # a rep id, or "channel"
    channel = UnicodeAttribute()  # sms | slack | email
    to = UnicodeAttribute()  # the address: phone, Slack id, email
    # sending | sent | failed | held | unconfirmed | cancelled | delivered | undelivered
    status = UnicodeAttribute()
    due_at = UnicodeAttribute()
    created_at = UnicodeAttribute()
    called_at = UnicodeAttribute(null=True)
    lateness_s = NumberAttribute(null=True)
    provider_id = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    error = UnicodeAttribute(null=True)
    fallback_of = UnicodeAttribute(null=True)
    attention = UnicodeAttribute(null=True)  # = status, for ATTENTION_STATUSES only
    rep_sms = UnicodeAttribute(null=True)  # = recipient, for SMS alerts to a rep only
    needing_attention = AlertsNeedingAttention()
    sms_by_rep = SmsAlertsByRep()


class FactModel(Model):
    """One lead's metrics fact (chalicelib/domain/facts.py), kept under the day it arrived on the
    team's wall clock: a window's facts are a Query per day, never a Scan of the leads. Short
    attribute names keep an item near 120 B, so its transactional updates cost 2 write units."""

    class Meta:
        table_name = "facts"
        region = "us-east-1"
        host: str | None = None

    day = UnicodeAttribute(hash_key=True)  # YYYY-MM-DD, the team's local date
    lead_id = UnicodeAttribute(range_key=True)
    created_at = MicrosAttribute(attr_name="t")
    source = UnicodeAttribute(attr_name="s")  # first touch
    campaign = UnicodeAttribute(null=True, attr_name="c")
    queue = UnicodeAttribute(null=True, attr_name="q")
    owner = UnicodeAttribute(null=True, attr_name="o")  # the owner now
    due_at = MicrosAttribute(null=True, attr_name="d")
    responded_at = MicrosAttribute(null=True, attr_name="r")
    responded_by = UnicodeAttribute(null=True, attr_name="rb")
    speed_wall_s = NumberAttribute(null=True, attr_name="w")
    speed_business_s = NumberAttribute(null=True, attr_name="b")
    sla_met = BooleanAttribute(null=True, attr_name="m")
    claimed_by = UnicodeAttribute(null=True, attr_name="cl")  # the first claimer
    stage = UnicodeAttribute(null=True, attr_name="st")  # the furthest stage; absent: "lead"
    lost = BooleanAttribute(null=True, attr_name="x")
    # Text, exactly as given: DynamoDB would store 1200.50 as the number 1200.5.
    won_amount = UnicodeAttribute(null=True, attr_name="a")
    currency = UnicodeAttribute(null=True, attr_name="cu")
    last_source = UnicodeAttribute(null=True, attr_name="ls")  # last-touch source when won


MODELS: dict[str, type[Model]] = {
    "leads": LeadModel,
    "identities": IdentityModel,
    "touchpoints": TouchpointModel,
    "events": EventModel,
    "team": TeamModel,
    "routing": RoutingModel,
    "alerts": AlertModel,
    "facts": FactModel,
}


def bind(*, table_prefix: str, region: str, host: str | None) -> Connection:
    """Point every model at this stage's tables and endpoint (call before first use), all
    through one connection, which is returned for transactions to share."""
    shared = Connection(region=region, host=host)
    for name, model in MODELS.items():
        model.Meta.table_name = f"{table_prefix}{name}"
        model.Meta.region = region
        model.Meta.host = host
        # PynamoDB gives each model a connection of its own, and each builds its own botocore
        # client on first use: about 0.2 s apiece, paid on a cold start by every webhook. So
        # each model's table connection is made here (no I/O) and pointed at the shared one.
        model._connection = None
        table = model._get_connection()
        shared.add_meta_table(table.get_meta_table())
        table.connection = shared
    return shared


def create_tables() -> None:
    """Create any missing table (local stack and tests; in AWS the template does this)."""
    for model in MODELS.values():
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
