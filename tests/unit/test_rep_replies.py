"""Reading a rep's reply to an SMS alert, the lead refs it names, and which lead it means."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.team import RepConfig, TeamConfig
from chalicelib.ports import AlertRecord
from chalicelib.services.alert_text import REF_ALPHABET, REF_LENGTH, lead_ref, reply_hint
from chalicelib.services.rep_replies import (
    CALL,
    CLAIM,
    DONE,
    HELP,
    QUIET,
    Command,
    latest_first,
    parse,
    rep_by_phone,
)
from tests.fakes import T0


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("1", Command(CLAIM)),
        ("CLAIM", Command(CLAIM)),
        ("  claim\n", Command(CLAIM)),
        ("Claim!", Command(CLAIM)),
        ("1.", Command(CLAIM)),
        ("CALL", Command(CALL)),
        ("call", Command(CALL)),
        ("Done", Command(DONE)),
        ("done.", Command(DONE)),
        ("CLAIM K7Q2", Command(CLAIM, "K7Q2")),
        ("1 k7q2", Command(CLAIM, "K7Q2")),
        ("done, k7q2", Command(DONE, "K7Q2")),
        ("call ref K7Q2", Command(CALL, "K7Q2")),
        ("DONE (ref K7Q2)", Command(DONE, "K7Q2")),
    ],
)
def test_a_command_is_read_trimmed_in_any_case_with_an_optional_ref(
    body: str, command: Command
) -> None:
    assert parse(body) == command


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "?",
        "HELP",
        "hello",
        "2",
        "11",
        "call me later",  # words after the command that are no ref: not acted on
        "done thanks",
        "claim K7Q2 K7Q3",
        "K7Q2",
        "not done",
    ],
)
def test_anything_else_is_answered_with_help(body: str) -> None:
    assert parse(body) == Command(HELP)


@pytest.mark.parametrize("body", ["STOP", "stop", " Unsubscribe ", "START", "yes"])
def test_opt_out_words_are_left_to_twilio(body: str) -> None:
    assert parse(body) == Command(QUIET)


def test_a_ref_is_short_typeable_and_the_same_for_the_same_lead() -> None:
    refs = {lead_ref(f"ld_{i:016x}") for i in range(2000)}

    assert lead_ref("ld_0123456789abcdef") == lead_ref("ld_0123456789abcdef")
    assert all(len(r) == REF_LENGTH and set(r) <= set(REF_ALPHABET) for r in refs)
    assert not set("01ILO") & set(REF_ALPHABET)
    # 31**4 values: among 2,000 leads a handful may share one, not more.
    assert len(refs) > 1990


def test_no_ref_can_be_mistaken_for_a_command_word() -> None:
    # Every 4-letter word a reply can start with has a letter the alphabet leaves out.
    for word in ("CALL", "DONE", "HELP", "STOP"):
        assert not set(word) <= set(REF_ALPHABET), word


def test_the_reply_hint_names_the_commands_and_the_ref() -> None:
    hint = reply_hint("ld_0123456789abcdef")

    assert hint == (
        "Reply 1 to claim, CALL to call, DONE when contacted "
        f"(ref {lead_ref('ld_0123456789abcdef')})."
    )
    assert parse(f"DONE {lead_ref('ld_0123456789abcdef')}").ref == lead_ref("ld_0123456789abcdef")


def _alert(lead_id: str, at_s: int, *, step: int = 0, sent_after_s: int = 0) -> AlertRecord:
    created = T0 + timedelta(seconds=at_s)
    return AlertRecord(
        lead_id=lead_id,
        key=f"{step}:ben:sms",
        step=step,
        step_name="warn",
        recipient="ben",
        channel="sms",
        to="+14155550132",
        status="sent",
        due_at=created,
        created_at=created,
        called_at=created + timedelta(seconds=sent_after_s),
    )


def test_latest_first_orders_leads_by_their_newest_alert_each_once() -> None:
    alerts = [_alert("ld_a", 0), _alert("ld_b", 10), _alert("ld_a", 20, step=2)]

    assert latest_first(alerts) == ["ld_a", "ld_b"]


def test_latest_first_orders_a_held_alert_by_when_it_went_out() -> None:
    # Held through the night: logged first, sent last.
    held = _alert("ld_a", 0, sent_after_s=3600)
    alerts = [held, _alert("ld_b", 10)]

    assert latest_first(alerts) == ["ld_a", "ld_b"]
    assert latest_first([replace(held, called_at=None), _alert("ld_b", 10)]) == ["ld_b", "ld_a"]


TEAM = TeamConfig(
    name="t",
    default_phone_region="US",
    reps=(
        RepConfig(id="ana", name="Ana", phone="+14155550131"),
        RepConfig(id="ben", name="Ben", phone="+14155550132"),
        RepConfig(id="kim", name="Kim"),
    ),
)


@pytest.mark.parametrize(
    ("sender", "rep"),
    [
        ("+14155550132", "ben"),
        ("(415) 555-0131", "ana"),  # read in the team's region
        ("+14155550199", None),
        ("", None),
        (None, None),
        ("anonymous", None),  # a withheld number
    ],
)
def test_the_rep_is_recognised_by_their_phone(sender: str | None, rep: str | None) -> None:
    found = rep_by_phone(TEAM, sender)

    assert (found.id if found else None) == rep
