"""SLA policies and escalation ladders: when a lead is due, and which step comes when.

A ladder's offsets are wall-clock time from the due instant (people are waiting in real time),
while the due instant itself is counted in the policy calendar's business time. The steps of a
ladder are numbered 0, 1, …; after the configured steps the last one repeats every
`repeat_every_s`, `repeat_times` times, numbered on. UNASSIGNED is the step a lead that nobody
could take fires at once, before step 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

RECIPIENTS = ("owner", "backup", "manager", "channel")  # and "rep:<id>" for a named rep
CHANNELS = ("sms", "slack", "email")
UNASSIGNED = -1


@dataclass(frozen=True)
class LadderStep:
    """One rung: at due + `offset_s`, alert `notify` on `channels`; optionally reassign first."""

    name: str
    offset_s: int  # seconds from the due time; negative fires before it
    notify: tuple[str, ...] = ("owner",)  # RECIPIENTS or "rep:<id>"
    channels: tuple[str, ...] = ("sms",)  # CHANNELS, in the order they are sent
    reassign: bool = False  # move the lead to the next eligible rep, then alert


@dataclass(frozen=True)
class SlaPolicy:
    """A response target, the calendar it is counted in, and the ladder that enforces it."""

    name: str
    target_s: int
    calendar: str | None = None  # a calendar name; None counts 24/7
    steps: tuple[LadderStep, ...] = ()
    repeat_every_s: int | None = None  # the last step again every so often…
    repeat_times: int = 0  # …this many more times
    claim_grace_s: int = 600  # a claim pauses escalation this long (the clock runs on)


# Fired at once for a lead nobody could take: the manager hears about it on every channel.
UNASSIGNED_STEP = LadderStep("unassigned", 0, ("manager",), ("sms", "slack", "email"))


@dataclass(frozen=True)
class ClockStart:
    """The clock as set at capture: policy, start (capture or the next opening), due time and
    the first step to fire."""

    policy: str
    started_at: datetime
    due_at: datetime
    next_step: int | None
    next_step_at: datetime | None


@dataclass(frozen=True)
class Speed:
    """Speed-to-lead as recorded when the clock stops."""

    wall_s: float  # capture to first response
    business_s: float  # the same, counted in the policy's calendar
    met: bool  # the response came by the due time


def step(policy: SlaPolicy, index: int) -> LadderStep | None:
    """The step numbered `index` (repeats included), or None past the end of the ladder."""
    if index == UNASSIGNED:
        return UNASSIGNED_STEP
    steps = policy.steps
    if 0 <= index < len(steps):
        return steps[index]
    extra = index - len(steps) + 1
    if steps and policy.repeat_every_s and 1 <= extra <= policy.repeat_times:
        last = steps[-1]
        return LadderStep(
            f"{last.name} (repeat {extra})",
            last.offset_s + extra * policy.repeat_every_s,
            last.notify,
            last.channels,
            reassign=False,  # a repeat reminds; moving the lead again and again would loop
        )
    return None


def step_time(policy: SlaPolicy, index: int, due_at: datetime, started_at: datetime) -> datetime:
    """When step `index` fires: due + offset, never before the clock started."""
    if index == UNASSIGNED:
        return started_at
    rung = step(policy, index)
    if rung is None:
        raise IndexError(f"policy {policy.name} has no step {index}")
    return max(due_at + timedelta(seconds=rung.offset_s), started_at)


def next_step(
    policy: SlaPolicy, after: int, due_at: datetime, started_at: datetime
) -> tuple[int, datetime] | None:
    """The step after `after` and its time, or None when the ladder is done."""
    index = after + 1 if after != UNASSIGNED else 0
    if step(policy, index) is None:
        return None
    return index, step_time(policy, index, due_at, started_at)


@dataclass(frozen=True)
class TimerMessage:
    """What a timer carries: which lead's which step, due when. JSON on the wire."""

    lead_id: str
    step: int
    due: datetime

    def to_json(self) -> str:
        """The message body."""
        return json.dumps(
            {"lead_id": self.lead_id, "step": self.step, "due": self.due.isoformat()},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, body: str) -> TimerMessage:
        """Read a body written by to_json; ValueError if it is not one."""
        try:
            data = json.loads(body)
            due = datetime.fromisoformat(data["due"])
            message = cls(str(data["lead_id"]), int(data["step"]), due)
        except (TypeError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a timer message: {body[:80]!r}") from exc
        if due.tzinfo is None:
            raise ValueError("a timer's due time must carry its UTC offset")
        return message
