"""SMS alerts through Twilio's Messages API (twilio.rest is imported on the first send only)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from chalicelib.ports import Delivery, DeliveryError, Sent

TWILIO_API = "https://api.twilio.com"
# Error codes that no retry can fix: the number is invalid, opted out (STOP), a landline, not
# SMS-capable or unroutable, or the account may not send to it (trial).
PERMANENT_CODES = frozenset({21211, 21606, 21608, 21610, 21612, 21614, 21635})
RATE_LIMITED = 20429
TIMEOUT_S = 10.0  # the alert worker must not hang on one provider; the service retries


class TwilioRest:
    """twilio's REST client for one account, built on first use (twilio.rest is slow to import
    and the webhooks never need it), with its errors as DeliveryErrors."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        http_client: Any = None,
        api_base: str | None = None,
    ) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._http_client = http_client
        self._api_base = api_base
        self._client: Any = None
        self._lock = threading.Lock()

    def call(self, create: Callable[[Any], Any]) -> Any:
        """`create(client)`'s result; a Twilio error or an unreachable Twilio as DeliveryError."""
        from twilio.base.exceptions import TwilioRestException, TwilioServiceException

        try:
            return create(self._twilio())
        except (TwilioRestException, TwilioServiceException) as exc:
            raise classify(exc.status, exc.code, message_of(exc)) from exc
        except Exception as exc:
            raise unreachable(exc) or exc from exc

    def _twilio(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = rest_client(
                    self._account_sid,
                    self._auth_token,
                    http_client=self._http_client,
                    api_base=self._api_base,
                )
            return self._client


class TwilioSms:
    """Sends one SMS per delivery from a number or a Messaging Service."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        sms_from: str | None = None,
        messaging_service_sid: str | None = None,
        http_client: Any = None,
        api_base: str | None = None,
    ) -> None:
        if not sms_from and not messaging_service_sid:
            raise ValueError("TwilioSms needs sms_from or messaging_service_sid")
        self._sms_from = sms_from
        self._messaging_service_sid = messaging_service_sid
        self._rest = TwilioRest(account_sid, auth_token, http_client=http_client, api_base=api_base)

    def send(self, delivery: Delivery) -> Sent:
        """Hand the SMS to Twilio once; the message sid is the provider id."""
        args: dict[str, Any] = {"to": delivery.to, "body": delivery.content.sms_body}
        # A message to a lead goes from the number they know; an alert from the alerts sender,
        # where a Messaging Service picks the number itself and applies its opt-out rules.
        if delivery.sender:
            args["from_"] = delivery.sender
        elif self._messaging_service_sid:
            args["messaging_service_sid"] = self._messaging_service_sid
        else:
            args["from_"] = self._sms_from
        if delivery.status_callback:
            args["status_callback"] = delivery.status_callback
        message = self._rest.call(lambda client: client.messages.create(**args))
        return Sent(message.sid, {"status": str(message.status or "")})


def rest_client(
    account_sid: str, auth_token: str, *, http_client: Any = None, api_base: str | None = None
) -> Any:
    """twilio's REST client, with a timeout, pointed at `api_base` when given."""
    from twilio.rest import Client

    return Client(account_sid, auth_token, http_client=http_client or _http_client(api_base))


def unreachable(exc: Exception) -> DeliveryError | None:
    """A transient DeliveryError when `exc` means Twilio could not be reached; else None."""
    if _is_connection_error(exc):
        return DeliveryError(f"could not reach Twilio: {exc}", permanent=False, code="connection")
    return None


def classify(status: int | None, code: int | None, message: str) -> DeliveryError:
    """A Twilio error as a DeliveryError: transient for rate limits and server errors."""
    text = f"Twilio {status}: {message}" if status else f"Twilio: {message}"
    code_text = str(code) if code else (str(status) if status else None)
    if code == RATE_LIMITED or status == 429:
        return DeliveryError(text, permanent=False, code=code_text)
    if code in PERMANENT_CODES:
        return DeliveryError(text, permanent=True, code=code_text)
    # Any other client error means the request itself is wrong and will stay wrong.
    permanent = status is not None and 400 <= status < 500
    return DeliveryError(text, permanent=permanent, code=code_text)


def message_of(exc: Any) -> str:
    """The most telling text a twilio exception carries."""
    for name in ("msg", "detail", "title"):
        value = getattr(exc, name, None)
        if value:
            return str(value)
    return type(exc).__name__


def _is_connection_error(exc: Exception) -> bool:
    import requests

    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def _http_client(api_base: str | None) -> Any:
    """Twilio's default HTTP client with a timeout, pointed at `api_base` when given."""
    from twilio.http.http_client import TwilioHttpClient

    class _Client(TwilioHttpClient):  # type: ignore[misc]
        # Tests and the local stack put a stand-in for api.twilio.com on 127.0.0.1.
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if api_base and url.startswith(TWILIO_API):
                url = api_base.rstrip("/") + url[len(TWILIO_API) :]
            return super().request(method, url, *args, **kwargs)

    return _Client(timeout=TIMEOUT_S)
