"""The ladder's numbering and timing: steps, repeats, the unassigned alert, timer messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.sla import (
    UNASSIGNED,
    LadderStep,
    SlaPolicy,
    TimerMessage,
    next_step,
    step,
    step_time,
)

DUE = datetime(2026, 11, 2, 14, 5, tzinfo=UTC)
START = DUE - timedelta(minutes=5)
POLICY = SlaPolicy(
    name="standard",
    target_s=300,
    steps=(
        LadderStep("warn", -120, ("owner",), ("sms", "slack")),
        LadderStep("breach", 0, ("owner", "channel"), ("slack",)),
        LadderStep("reassign", 180, ("owner",), ("sms",), reassign=True),
        LadderStep("manager", 600, ("manager",), ("sms", "email")),
    ),
    repeat_every_s=900,
    repeat_times=2,
)


def test_steps_fire_at_their_offsets_from_the_due_time() -> None:
    times = [step_time(POLICY, i, DUE, START) for i in range(4)]
    assert times == [DUE + timedelta(seconds=s) for s in (-120, 0, 180, 600)]


def test_the_last_step_repeats_the_configured_number_of_times_then_the_ladder_ends() -> None:
    first, second = step(POLICY, 4), step(POLICY, 5)
    assert first is not None and second is not None
    assert (first.notify, first.channels) == (("manager",), ("sms", "email"))
    assert step_time(POLICY, 4, DUE, START) == DUE + timedelta(seconds=600 + 900)
    assert step_time(POLICY, 5, DUE, START) == DUE + timedelta(seconds=600 + 1800)
    assert step(POLICY, 6) is None
    assert next_step(POLICY, 5, DUE, START) is None


def test_a_repeat_reminds_but_never_reassigns_again() -> None:
    looping = SlaPolicy(
        "p", 60, steps=(LadderStep("move", 0, reassign=True),), repeat_every_s=60, repeat_times=3
    )
    repeat = step(looping, 1)
    assert repeat is not None and not repeat.reassign


def test_a_step_due_before_the_clock_started_waits_for_the_start() -> None:
    # A 1-minute target with a warning 2 minutes before due: the warning cannot precede capture.
    short = SlaPolicy("short", 60, steps=(LadderStep("warn", -120),))
    started = DUE - timedelta(seconds=60)
    assert step_time(short, 0, DUE, started) == started


def test_an_unassigned_lead_alerts_the_manager_first_then_follows_the_ladder() -> None:
    unassigned = step(POLICY, UNASSIGNED)
    assert unassigned is not None and unassigned.notify == ("manager",)
    assert next_step(POLICY, UNASSIGNED, DUE, START) == (0, DUE - timedelta(seconds=120))


def test_an_unknown_step_number_is_an_error_not_a_silent_time() -> None:
    with pytest.raises(IndexError):
        step_time(POLICY, 99, DUE, START)


def test_a_timer_message_round_trips_and_refuses_garbage() -> None:
    message = TimerMessage("ld_1", 3, DUE)
    assert TimerMessage.from_json(message.to_json()) == message
    for body in (
        "",
        "{}",
        '{"lead_id":"x","step":"a","due":"2026-01-01T00:00:00+00:00"}',
        '{"lead_id":"x","step":1,"due":"2026-01-01T00:00:00"}',
        "[]",
    ):
        with pytest.raises(ValueError):
            TimerMessage.from_json(body)
