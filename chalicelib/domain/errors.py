"""Errors named in the domain; functions/http.py translates them to HTTP in one place."""

from __future__ import annotations


class LeadclockError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidPayloadError(LeadclockError):
    """The body can't be read or a field fails validation (400)."""

    code = "invalid_payload"


class PayloadTooLargeError(LeadclockError):
    """The body is over the size limit (413)."""

    code = "payload_too_large"


class UnsupportedContentTypeError(LeadclockError):
    """The body's content type is not one the endpoint reads (415)."""

    code = "unsupported_content_type"


class UnauthorizedError(LeadclockError):
    """Missing or bad signature, token or timestamp, or an unknown source (401)."""

    code = "unauthorized"


class ForbiddenError(LeadclockError):
    """A provider signature that does not match (403; Twilio's convention)."""

    code = "forbidden"


class NotFoundError(LeadclockError):
    """The thing asked for does not exist (404)."""

    code = "not_found"


class ConflictError(LeadclockError):
    """The request is valid but the state forbids it now (409)."""

    code = "conflict"


class NotConfiguredError(Exception):
    """The deployment lacks configuration or a secret. Not the sender's fault: answered 503
    without details, so providers retry and nothing about the setup leaks."""


class ConfigError(LeadclockError):
    """The team configuration is invalid; `problems` lists (path, reason) pairs."""

    code = "invalid_config"

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        lines = [f"{file}: {path}: {reason}" for path, reason in problems]
        super().__init__("\n".join(lines))
        self.file = file
        self.problems = problems


class ProviderUnavailableError(Exception):
    """A provider (Twilio) failed for now, a transient error: nothing was sent or placed, and
    the same request may be tried again (answered 502 with the provider's code)."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
