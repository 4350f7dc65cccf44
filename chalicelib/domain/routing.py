"""Routing: which queue a lead goes to, and which rep in it owns the lead, with the reasons.

The fairness rule
-----------------
Each queue has one atomic counter. The n-th lead assigned by rotation in a queue
(n = 0, 1, 2, ... as handed out by the counter) looks at slot ``n mod W`` of the queue's
*cycle*: the members interleaved by smooth weighted round-robin, W = the sum of the weights, each
member appearing exactly ``weight`` times and spread out: never twice in a row unless their weight
is more than the others' together plus one, nor across the wrap from the last slot to the first
unless it is more than the others' together. The owner is the first eligible member found walking
the cycle forward from that slot. So:

- while everyone stays eligible, any W·k consecutive assignments give each member exactly
  weight·k leads (2:1:1 gives 50/25/25 over every 4·k in a row);
- concurrent requests take distinct n from the counter, so N leads into M equal-weight reps
  differ by at most one per rep, however they interleave;
- nobody starves: an eligible member gets at least one lead in every W consecutive assignments;
- a skipped rep is not owed anything later. The counter moves on regardless; a skip only lands
  that one lead on the next eligible member of the cycle, and the skipped rep is back in turn at
  their next slot, with no catch-up burst. While a rep is skipped, their slots go to whoever
  follows them in the cycle. A rep with weight 0 is in the queue but never in turn.

Before rotation comes stickiness: a returning person keeps their previous owner when the queue
is sticky, the owner was assigned within ``sticky_days`` and is eligible now. The owner need not
be a member of this queue any more: the person knows the rep, not the queue. A sticky lead does
not need a counter position, so callers check `sticky_assignment` before drawing one.
After rotation comes the queue's fallback owner, who takes the lead even if unavailable (they are
the queue's explicit catch-all; the reason is recorded); with none, the lead is unassigned with a
reason, never silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from chalicelib.domain.capture import Capture
from chalicelib.domain.hours import RepLoad, unavailable
from chalicelib.domain.team import Member, QueueConfig, RepConfig, RuleConfig, TeamConfig

HOWS = ("rotation", "sticky", "fallback_owner", "unassigned")
NOBODY = "no eligible member and no fallback owner"


def match_queue(team: TeamConfig, capture: Capture) -> tuple[str | None, str | None]:
    """(queue, rule): the first matching rule's queue, else the form source's or tracking
    number's own queue, else the default queue; rule is None when no rule matched."""
    rule = next((r for r in team.rules if _matches(r, capture)), None)
    if rule is not None:
        return rule.queue, rule.name
    att = capture.attribution
    source = team.source(att.source) if att.channel == "form" else None
    if source is not None and source.queue:
        return source.queue, None
    number = team.tracking_number(att.tracking_number) if att.tracking_number else None
    if number is not None and number.queue:
        return number.queue, None
    return team.default_queue, None


def _matches(rule: RuleConfig, capture: Capture) -> bool:
    att = capture.attribution
    if rule.source is not None and rule.source != att.source:
        return False
    if rule.campaign is not None and rule.campaign != att.campaign:
        return False
    if rule.tracking_number is not None and rule.tracking_number != att.tracking_number:
        return False
    if not rule.fields:
        return True
    raw = capture.detail.get("fields")
    given = raw if isinstance(raw, Mapping) else {}
    # Field names and values are typed by people into form builders: compare them loosely.
    values: dict[str, set[str]] = {}
    for name, value in given.items():
        if isinstance(name, str) and isinstance(value, str):
            values.setdefault(_loose(name), set()).add(_loose(value))
    return all(_loose(value) in values.get(_loose(name), ()) for name, value in rule.fields.items())


def _loose(text: str) -> str:
    return text.strip().casefold()


def cycle(members: Sequence[Member]) -> tuple[str, ...]:
    """The queue's rotation cycle: each rep `weight` times, interleaved by smooth weighted
    round-robin; a rep listed twice counts once with the weights summed."""
    weights = _weights(members)
    return _cycle(tuple((rep, w) for rep, w in weights.items() if w > 0))


@lru_cache(maxsize=256)
def _cycle(weights: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    # nginx's smooth weighted round-robin: every step each rep gains its weight, the richest is
    # picked and pays the total. Plain SWRR can put a rep twice in a row (2:1:1 gives a,b,c,a
    # and the cycle wraps to a,a), so where the weights allow it we pick the richest rep that
    # is not the previous one and still leaves a repeat-free rest: around the wrap too when no
    # rep holds more than half the cycle, else in a straight line.
    total = sum(w for _, w in weights)
    heaviest = max((w for _, w in weights), default=0)
    wrap, line = 2 * heaviest <= total, 2 * heaviest <= total + 1
    current = [0] * len(weights)
    left = [w for _, w in weights]
    order: list[int] = []
    for remaining in range(total, 0, -1):
        for i, (_, w) in enumerate(weights):
            current[i] += w
        candidates = [i for i in range(len(weights)) if left[i] > 0]
        if line:
            first = (order[0] if order else None) if wrap else -1
            candidates = [
                i
                for i in candidates
                if (not order or i != order[-1]) and _fits(left, i, first, remaining)
            ] or candidates  # never empty by construction; kept total as a guard
        pick = max(candidates, key=lambda i: (current[i], -i))
        current[pick] -= total
        left[pick] -= 1
        order.append(pick)
    return tuple(weights[i][0] for i in order)


def _fits(left: list[int], pick: int, first: int | None, remaining: int) -> bool:
    # After `pick`, can the rest be laid out with no rep next to itself, nor (around the wrap)
    # next to the first? Each rep needs one separator per item, less one when it may go last.
    # `first` is the cycle's first rep, None when `pick` is about to be it, -1 for no wrap.
    rest = remaining - 1
    for i, count in enumerate(left):
        count -= i == pick
        room = rest - count + 1 - (i == pick) - (i == (pick if first is None else first))
        if count > room:
            return False
    return True


@dataclass(frozen=True)
class Choice:
    """What rotation found: the owner (None if nobody), the cycle slot it started from, the reps
    passed over with why (in walking order, each once), and every eligible rep."""

    owner: str | None
    slot: int
    skipped: tuple[tuple[str, str], ...] = ()
    eligible: tuple[str, ...] = ()


def choose(
    position: int,
    members: Sequence[Member],
    reasons: Mapping[str, str | None],
    exclude: frozenset[str] = frozenset(),
    current_owner: str | None = None,
) -> Choice:
    """The first eligible rep walking the cycle forward from slot `position mod W`.

    `reasons[rep]` is None when the rep is eligible, else why not (a rep missing from it is not
    eligible). Reps in `exclude` are passed over as "already_tried", `current_owner` as
    "current_owner", whatever their own state."""
    turns = cycle(members)
    excluded = exclude | {current_owner} if current_owner else exclude

    def why(rep: str) -> str | None:
        if rep == current_owner:
            return "current_owner"
        return "already_tried" if rep in excluded else reasons.get(rep, "unknown_rep")

    eligible = tuple(dict.fromkeys(r for r in turns if why(r) is None))
    if not turns:
        return Choice(owner=None, slot=0)
    slot = position % len(turns)
    skipped: dict[str, str] = {}
    for step in range(len(turns)):
        rep = turns[(slot + step) % len(turns)]
        reason = why(rep)
        if reason is None:
            return Choice(rep, slot, tuple(skipped.items()), eligible)
        skipped.setdefault(rep, reason)
    return Choice(None, slot, tuple(skipped.items()), eligible)


@dataclass(frozen=True)
class Assignment:
    """Who owns a lead and why, kept on the lead and shown by GET /leads/{lead_id}."""

    queue: str | None
    rule: str | None
    owner: str | None
    how: str  # one of HOWS
    reason: str | None = None  # why a fallback owner or nobody
    eligible: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    weights: Mapping[str, int] = field(default_factory=dict)
    position: int | None = None  # the counter value n; None when rotation was not consulted
    slot: int | None = None  # n mod W, the cycle index rotation started from

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy; skipped reps become {"rep", "reason"} objects."""
        return asdict(self) | {
            "eligible": list(self.eligible),
            "skipped": [{"rep": rep, "reason": why} for rep, why in self.skipped],
            "weights": dict(self.weights),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assignment:
        """The inverse of to_dict."""
        skipped = tuple((s["rep"], s["reason"]) for s in data.get("skipped", ()))
        eligible, weights = tuple(data.get("eligible", ())), dict(data.get("weights", {}))
        return cls(**{**data, "skipped": skipped, "eligible": eligible, "weights": weights})


def sticky_assignment(
    team: TeamConfig,
    queue_name: str | None,
    rule: str | None,
    at: datetime,
    loads: Mapping[str, RepLoad],
    sticky_owner: str | None,
    sticky_assigned_at: datetime | None,
    exclude: frozenset[str] = frozenset(),
) -> Assignment | None:
    """The previous owner kept, if the queue is sticky and they are eligible and recent enough."""
    queue = team.queue(queue_name)
    if queue is None or not queue.sticky or sticky_owner is None or sticky_assigned_at is None:
        return None
    rep = team.rep(sticky_owner)
    if rep is None or sticky_owner in exclude:
        return None
    if at - sticky_assigned_at > timedelta(days=queue.sticky_days):
        return None
    if unavailable(rep, at, loads.get(sticky_owner, RepLoad())) is not None:
        return None
    return Assignment(queue.name, rule, sticky_owner, "sticky", weights=_weights(queue.members))


def decide(
    team: TeamConfig,
    queue_name: str | None,
    rule: str | None,
    position: int,
    at: datetime,
    loads: Mapping[str, RepLoad],
    sticky_owner: str | None,
    sticky_assigned_at: datetime | None,
    exclude: frozenset[str] = frozenset(),
    current_owner: str | None = None,
) -> Assignment:
    """The owner of a lead in `queue_name` (None: the default queue): the sticky owner, else
    rotation at counter value `position`, else the fallback owner, else unassigned with the
    reason. `exclude` and `current_owner` are for reassignment: neither is ever chosen."""
    queue = team.queue(queue_name)
    if queue is None:
        return Assignment(queue_name, rule, None, "unassigned", "unknown queue")
    barred = exclude | {current_owner} if current_owner else exclude
    kept = sticky_assignment(
        team, queue.name, rule, at, loads, sticky_owner, sticky_assigned_at, barred
    )
    if kept is not None:
        return kept
    reasons = _reasons(team, queue, at, loads)
    choice = choose(position, queue.members, reasons, exclude, current_owner)
    found = Assignment(
        queue.name,
        rule,
        choice.owner,
        "rotation",
        eligible=choice.eligible,
        skipped=choice.skipped,
        weights=_weights(queue.members),
        position=position,
        slot=choice.slot if cycle(queue.members) else None,
    )
    if choice.owner is not None:
        return found
    fallback = queue.fallback_owner
    rep = team.rep(fallback) if fallback else None
    if fallback is None:
        return replace(found, how="unassigned", reason=NOBODY)
    if rep is None or fallback in barred:
        problem = "is not a configured rep" if rep is None else "was excluded"
        why = f"no eligible member and fallback owner {fallback} {problem}"
        return replace(found, how="unassigned", reason=why)
    state = unavailable(rep, at, loads.get(fallback, RepLoad()))
    why = "no eligible member" + (f"; fallback owner is {state}" if state else "")
    return replace(found, owner=fallback, how="fallback_owner", reason=why)


def _reasons(
    team: TeamConfig, queue: QueueConfig, at: datetime, loads: Mapping[str, RepLoad]
) -> dict[str, str | None]:
    reasons: dict[str, str | None] = {}
    for member in queue.members:
        rep = team.rep(member.rep)
        load = loads.get(member.rep, RepLoad())
        reasons[member.rep] = "unknown_rep" if rep is None else unavailable(rep, at, load)
    return reasons


def _weights(members: Sequence[Member]) -> dict[str, int]:
    # A rep listed twice in a queue counts once, with the weights summed; below 0 counts as 0.
    weights: dict[str, int] = {}
    for member in members:
        weights[member.rep] = weights.get(member.rep, 0) + max(member.weight, 0)
    return weights


def next_to_ring(
    team: TeamConfig, queue: QueueConfig, *, slot: int, at: datetime, tried: frozenset[str]
) -> RepConfig | None:
    """Who to ring after an unanswered leg of a call: the next member in the queue's cycle after
    `slot` who is available now, has a phone and was not rung on this call. It takes no
    rotation position: ringing is not assigning."""
    reasons: dict[str, str | None] = {}
    for member in queue.members:
        rep = team.rep(member.rep)
        if rep is None:
            continue
        reasons[rep.id] = "no_phone" if not rep.phone else unavailable(rep, at, RepLoad())
    choice = choose(slot + 1, queue.members, reasons, exclude=tried)
    return team.rep(choice.owner) if choice.owner else None
