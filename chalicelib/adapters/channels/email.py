"""Email alerts through SES v2 (HTML with a plain-text part)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.ports import Delivery, DeliveryError, Sent

# Throttling: SES dropped the message, and sending it again later works.
TRANSIENT_CODES = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "RequestTimeout"}
)
# The sender, account or request is wrong: sending again changes nothing.
PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "NotFoundException",
        "BadRequestException",
        "AccessDeniedException",
    }
)


class SesEmail:
    """Sends one email per delivery from a verified address, through an SES v2 client."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        *,
        sender: str,
        configuration_set: str | None = None,
    ) -> None:
        # The client is built by the caller on first use: boto3 clients are slow to build, and
        # moto must be started before one is made in tests.
        self._client_factory = client_factory
        self._sender = sender
        self._configuration_set = configuration_set

    def send(self, delivery: Delivery) -> Sent:
        """Hand the email to SES once; the SES message id is the provider id."""
        from botocore.exceptions import ClientError, HTTPClientError, ParamValidationError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        content = delivery.content
        args: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [delivery.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": content.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": content.text, "Charset": "UTF-8"},
                        "Html": {"Data": content.html or content.text, "Charset": "UTF-8"},
                    },
                }
            },
        }
        if self._configuration_set:
            args["ConfigurationSetName"] = self._configuration_set
        try:
            reply = self._client_factory().send_email(**args)
        except ClientError as exc:
            raise classify(exc.response) from exc
        except ParamValidationError as exc:
            raise DeliveryError(str(exc), permanent=True, code="invalid_request") from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            # Endpoint unreachable, connection reset, read timeout: worth another attempt.
            raise DeliveryError(
                f"could not reach SES: {exc}", permanent=False, code="connection"
            ) from exc
        return Sent(str(reply["MessageId"]))


def classify(response: dict[str, Any]) -> DeliveryError:
    """An SES error reply as a DeliveryError: throttling is transient, rejections permanent."""
    error = response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    message = str(error.get("Message") or "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    text = f"SES {code}: {message}" if message else f"SES {code}"
    if code in TRANSIENT_CODES:
        return DeliveryError(text, permanent=False, code=code)
    if code == "LimitExceededException":
        # A sending-rate limit passes; other limits (e.g. too many recipients) do not.
        return DeliveryError(text, permanent="rate" not in message.lower(), code=code)
    if code in PERMANENT_CODES:
        return DeliveryError(text, permanent=True, code=code)
    # Unknown codes: server errors are worth a retry, other client errors are not.
    permanent = isinstance(status, int) and 400 <= status < 500 and status != 429
    return DeliveryError(text, permanent=permanent, code=code)
