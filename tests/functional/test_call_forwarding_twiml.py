"""The call-forwarding TwiML, byte for byte what the twilio library's own builder produces for
each outcome: ring the owner; no answer -> the next rep; nobody left -> voicemail; answered ->
hang up."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from twilio.twiml.voice_response import VoiceResponse

from tests.functional.conftest import (
    DIAL_DONE_PREFIX,
    PUBLIC_BASE_URL,
    TEAM,
    TRACKING_NUMBER,
    VOICE,
    VOICEMAIL,
    Stack,
    call,
)

CALL_SID = "CA" + "e" * 32
# Everyone on duty and only the first three in the queue, so the order is known.
ON_DUTY = dataclasses.replace(
    TEAM,
    reps=tuple(
        dataclasses.replace(r, hours=None, status="active", out_of_office_until=None)
        for r in TEAM.reps
    ),
)


def _dial(number: str, rung: str) -> str:
    expected = VoiceResponse()
    dial = expected.dial(
        action=f"{PUBLIC_BASE_URL}{DIAL_DONE_PREFIX}/{rung}",
        timeout=20,
        caller_id=TRACKING_NUMBER,
        answer_on_bridge=True,
    )
    dial.number(number)
    return str(expected)


def _body(stack: Stack, path: str, params: dict[str, str]) -> str:
    reply = stack.twilio(path, params)
    assert reply.status_code == 200, reply.body
    return reply.body.decode()


def test_each_outcome_is_the_twiml_the_twilio_library_builds(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(ON_DUTY)
    ringing = _body(stack, VOICE, call(CALL_SID))
    owner = stack.team.rep(stack.leads()[0].owner or "")
    assert owner is not None and owner.phone
    assert ringing == _dial(owner.phone, owner.id)

    no_answer = call(CALL_SID, CallStatus="in-progress", DialCallStatus="no-answer")
    second = _body(stack, f"{DIAL_DONE_PREFIX}/{owner.id}", no_answer)
    nxt = next(
        stack.team.rep(m.rep) for m in TEAM.queues[0].members if f"{owner.id}.{m.rep}" in second
    )
    assert nxt is not None and nxt.phone
    assert second == _dial(nxt.phone, f"{owner.id}.{nxt.id}")

    everyone = ".".join(r.id for r in TEAM.reps)
    voicemail = _body(stack, f"{DIAL_DONE_PREFIX}/{everyone}", no_answer)
    expected = VoiceResponse()
    expected.say(
        "Sorry, nobody can take your call right now. Please leave a message after the tone."
    )
    expected.record(action=PUBLIC_BASE_URL + VOICEMAIL, max_length=120, play_beep=True)
    expected.hangup()
    assert voicemail == str(expected)

    answered = call(CALL_SID, CallStatus="in-progress", DialCallStatus="completed")
    hung_up = VoiceResponse()
    hung_up.hangup()
    assert _body(stack, f"{DIAL_DONE_PREFIX}/{owner.id}", answered) == str(hung_up)
