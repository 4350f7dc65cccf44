"""Outbound calls through Twilio's Calls API: the first leg of the click-to-call bridge.

A Delivery on the "voice" channel places a call to `to` from caller id `sender`; when it is
answered Twilio fetches `answer_url` for the call's instructions, and reports the leg's progress
to `status_callback`. twilio.rest is imported on the first call only."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.channels.sms import TwilioRest
from chalicelib.ports import Delivery, DeliveryError, Sent

# Every progress report of the leg: the timeline shows the rep's phone ringing and answering.
EVENTS = ["initiated", "ringing", "answered", "completed"]
RING_TIMEOUT_S = 25  # the rep's phone rings this long before Twilio gives up on the leg


class TwilioVoice:
    """Places one call per delivery."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        http_client: Any = None,
        api_base: str | None = None,
    ) -> None:
        self._rest = TwilioRest(account_sid, auth_token, http_client=http_client, api_base=api_base)

    def send(self, delivery: Delivery) -> Sent:
        """Ask Twilio to place the call; the call sid is the provider id."""
        if not delivery.sender or not delivery.answer_url:
            raise DeliveryError(
                "a call needs a caller id and an answer URL", permanent=True, code="invalid"
            )
        args: dict[str, Any] = {
            "to": delivery.to,
            "from_": delivery.sender,
            "url": delivery.answer_url,
            "timeout": RING_TIMEOUT_S,
        }
        if delivery.status_callback:
            args["status_callback"] = delivery.status_callback
            args["status_callback_event"] = EVENTS
        call = self._rest.call(lambda client: client.calls.create(**args))
        return Sent(call.sid, {"status": str(call.status or "")})
