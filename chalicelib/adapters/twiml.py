"""TwiML replies, built with the twilio library's response builders."""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

_VOICEMAIL_PROMPT = (
    "Sorry, nobody can take your call right now. Please leave a message after the tone."
)


def forward_call(
    number: str | None,
    *,
    caller_id: str | None,
    timeout_s: int,
    dial_action_url: str,
    voicemail_action_url: str | None,
) -> str:
    """Ring `number`; when nobody answers, Twilio calls `dial_action_url` to decide what next.
    With no number, go straight to voicemail (or hang up when voicemail is off)."""
    response = VoiceResponse()
    if number:
        dial = response.dial(
            action=dial_action_url,
            timeout=timeout_s,
            caller_id=caller_id,
            answer_on_bridge=True,
        )
        dial.number(number)
    elif voicemail_action_url:
        _voicemail(response, voicemail_action_url)
    else:
        response.hangup()
    return str(response)


def voicemail(action_url: str) -> str:
    """Ask for a message and post the recording to `action_url`."""
    response = VoiceResponse()
    _voicemail(response, action_url)
    return str(response)


def hangup() -> str:
    """End the call."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def message(text: str) -> str:
    """Reply to an SMS with one message (the library escapes the text)."""
    response = MessagingResponse()
    response.message(text)
    return str(response)


def no_reply() -> str:
    """Receive an SMS without replying (an empty body has caused Twilio 11200 errors)."""
    return str(MessagingResponse())


def _voicemail(response: VoiceResponse, action_url: str) -> None:
    response.say(_VOICEMAIL_PROMPT)
    # An explicit action stops Twilio re-requesting the call's first URL after the recording.
    response.record(action=action_url, max_length=120, play_beep=True)
    response.hangup()


def whisper(text: str, *, connect_url: str) -> str:
    """Tell the rep who is waiting and ask for a key press, which Twilio posts to
    `connect_url`; with no key pressed, say so and hang up."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=connect_url, method="POST", timeout=8)
    gather.say(text)
    response.say("No key pressed. Goodbye.")
    response.hangup()
    return str(response)


def bridge_dial(
    lead_phone: str, *, caller_id: str, status_url: str, done_url: str, timeout_s: int
) -> str:
    """Dial the lead from `caller_id`; the lead leg reports each stage to `status_url`."""
    response = VoiceResponse()
    dial = response.dial(action=done_url, method="POST", timeout=timeout_s, caller_id=caller_id)
    dial.number(
        lead_phone,
        status_callback=status_url,
        status_callback_method="POST",
        status_callback_event="initiated ringing answered completed",
    )
    return str(response)


def say_and_hang_up(text: str) -> str:
    """Say `text`, then end the call."""
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)
